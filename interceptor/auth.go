package interceptor

import (
	"context"
	"maps"

	"github.com/remoting-go/remoting"
)

// CredentialKey is the key of the invocation context (Invocation.Meta)
// under which [Credential] sends the credential and [Authenticate] looks
// for it.
const CredentialKey = "authorization"

// Credential returns a client interceptor that sends cred with every
// invocation, in the invocation context under [CredentialKey]. It copies
// inv.Meta rather than changing a map the caller may share.
func Credential(cred string) remoting.Interceptor {
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		inv.Meta = withMeta(inv.Meta, CredentialKey, cred)
		return next(ctx, inv)
	}
}

// CredentialFunc returns a client interceptor that asks get for the
// credential of each invocation (a token that is refreshed, say) and sends
// it as [Credential] does. An error of get fails the call with it, as a
// [*remoting.Error] with [remoting.CodePermissionDenied] unless it is a
// *remoting.Error already; nothing is sent.
func CredentialFunc(get func(ctx context.Context) (string, error)) remoting.Interceptor {
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		cred, err := get(ctx)
		if err != nil {
			if _, ok := err.(*remoting.Error); ok {
				return err
			}
			return remoting.Errorf(remoting.CodePermissionDenied, "get credential for %s: %w", inv.Method, err)
		}
		inv.Meta = withMeta(inv.Meta, CredentialKey, cred)
		return next(ctx, inv)
	}
}

// withMeta returns a copy of md with k set to v.
func withMeta(md remoting.Metadata, k, v string) remoting.Metadata {
	out := make(remoting.Metadata, len(md)+1)
	maps.Copy(out, md)
	out[k] = v
	return out
}

type identityKey struct{}

// WithIdentity returns ctx carrying identity, as [Authenticate] passes it
// to the rest of the chain and the method. Tests of methods that read
// [IdentityFrom] may use it.
func WithIdentity(ctx context.Context, identity string) context.Context {
	return context.WithValue(ctx, identityKey{}, identity)
}

// IdentityFrom returns the identity that [Authenticate] established for
// the invocation ctx belongs to, and whether there is one.
func IdentityFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(identityKey{}).(string)
	return id, ok
}

// Authenticate returns a server interceptor that checks the credential
// each invocation carries under [CredentialKey] with check, which returns
// the caller's identity or an error. A call without a credential, or
// whose credential check refuses, fails with a [*remoting.Error] with
// [remoting.CodePermissionDenied] (whose message includes check's error)
// and goes no further: the object is not activated for it. check runs
// with the invocation's context, so it may consult
// [remoting.ServerInfoFrom] (the caller's address, say).
//
// A call that passes continues with the identity in its context, where
// later interceptors and the method read it with [IdentityFrom]. The
// credential itself is removed from the invocation context the method
// sees through [remoting.MetadataFrom], so that it does not end up in the
// method's logs.
func Authenticate(check func(ctx context.Context, cred string) (identity string, err error)) remoting.Interceptor {
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		cred, ok := inv.Meta[CredentialKey]
		if !ok || cred == "" {
			return remoting.Errorf(remoting.CodePermissionDenied, "%s: no credential", inv.Method)
		}
		identity, err := check(ctx, cred)
		if err != nil {
			return remoting.Errorf(remoting.CodePermissionDenied, "%s: credential refused: %v", inv.Method, err)
		}
		ctx = WithIdentity(ctx, identity)
		if md := remoting.MetadataFrom(ctx); md != nil {
			if _, has := md[CredentialKey]; has {
				md = maps.Clone(md)
				delete(md, CredentialKey)
				ctx = remoting.WithMetadata(ctx, md)
			}
		}
		return next(ctx, inv)
	}
}

// Authorize returns a server interceptor that lets a call through only if
// allow(identity, iface, method) is true, where identity is what
// [Authenticate] established ("" if it did not run), iface the fully
// qualified interface of the target object and method the wire name
// ("Cart.Add"). Otherwise the call fails with a [*remoting.Error] with
// [remoting.CodePermissionDenied], and the object is not activated for it.
// Place it after Authenticate. allow must be safe for concurrent use.
func Authorize(allow func(identity, iface, method string) bool) remoting.Interceptor {
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		identity, _ := IdentityFrom(ctx)
		if !allow(identity, inv.Target.Interface, inv.Method) {
			return remoting.Errorf(remoting.CodePermissionDenied, "%q may not call %s", identity, inv.Method)
		}
		return next(ctx, inv)
	}
}
