package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// Postgres is a PostgreSQL server that a test started: one cluster in a
// temporary directory, listening on a loopback port, with the superuser
// postgres and trust authentication.
type Postgres struct {
	bin  string // the directory of the server's programs
	dir  string // the cluster's directory (data/, server.log)
	port int
	cred *syscall.Credential // whom the server runs as; nil: as the test
	proc *process            // the running server, or nil
}

// StartPostgres makes a new cluster in a new temporary directory (a copy
// of one that initdb made) and starts a server on it. When the test runs as root, the server runs as
// the system user postgres (which the Debian package creates), or nobody,
// because PostgreSQL refuses to run as root. t.Cleanup stops the server
// and removes the directory.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		missing(t, "postgres", "postgresql")
	}
	p := &Postgres{bin: bin, port: freePort(t)}

	dir, err := os.MkdirTemp("", "remoting-postgres-")
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	p.dir = dir
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("postgres: stop: %v", err)
		}
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := serverUser()
		if err != nil {
			t.Fatalf("postgres: %v", err)
		}
		p.cred = &syscall.Credential{Uid: u.uid, Gid: u.gid}
		if err := os.Chown(dir, int(u.uid), int(u.gid)); err != nil {
			t.Fatalf("postgres: %v", err)
		}
	}

	template, err := p.template()
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	// cp -a keeps the owner and the modes (0700) that postgres insists on.
	if out, err := exec.Command("cp", "-a", template, p.data()).CombinedOutput(); err != nil {
		t.Fatalf("postgres: copy the cluster template: %v\n%s", err, out)
	}
	p.Start(t)
	return p
}

// template returns a freshly initialised cluster to copy, made by initdb
// once and kept in the temporary directory for later tests and later runs
// (initdb takes seconds; a copy, a fraction of one). It is one per
// PostgreSQL version and owner, and made under a temporary name and
// renamed into place, so that test processes running at once never see
// half of one.
func (p *Postgres) template() (string, error) {
	uid := os.Geteuid()
	if p.cred != nil {
		uid = int(p.cred.Uid)
	}
	cache := filepath.Join(os.TempDir(), fmt.Sprintf("remoting-testserver-%d", os.Geteuid()))
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	name := filepath.Join(cache, fmt.Sprintf("postgres-%d-uid%d", version(p.bin), uid))
	if _, err := os.Stat(filepath.Join(name, "PG_VERSION")); err == nil {
		return name, nil
	}
	tmp, err := os.MkdirTemp(cache, "building-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if p.cred != nil {
		if err := os.Chown(tmp, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return "", err
		}
	}
	data := filepath.Join(tmp, "data")
	initdb := exec.Command(filepath.Join(p.bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale",
		"--no-sync", // a test cluster; fsync at creation buys nothing
	)
	initdb.Dir = tmp
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := os.Rename(data, name); err != nil {
		if _, serr := os.Stat(filepath.Join(name, "PG_VERSION")); serr == nil {
			return name, nil // another process was quicker
		}
		return "", err
	}
	return name, nil
}

// postgresBin returns the directory of the newest installed PostgreSQL's
// programs, or "" if there is none.
func postgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	if path, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(path)
	}
	return ""
}

// version returns the major version in a path /usr/lib/postgresql/N/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

type ids struct{ uid, gid uint32 }

// serverUser returns the unprivileged user a server started by root runs
// as.
func serverUser() (ids, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return ids{uint32(uid), uint32(gid)}, nil
		}
	}
	return ids{}, fmt.Errorf("running as root, and there is neither a postgres nor a nobody user to run the server as")
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }
func (p *Postgres) log() string  { return filepath.Join(p.dir, "server.log") }

// Port returns the port the server listens on, on 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// ConnString returns a connection string for the database postgres as the
// superuser postgres.
func (p *Postgres) ConnString() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Start starts the server on its port and data, and waits until it
// accepts connections (after crash recovery, if it crashed). It fails the
// test if the server is running already or does not get ready within 30
// seconds.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if p.proc != nil {
		t.Fatal("postgres: Start: the server is running")
	}
	cmd := exec.Command(filepath.Join(p.bin, "postgres"),
		"-D", p.data(),
		"-p", itoa(p.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=", // TCP only: no socket in /var/run/postgresql
		"-c", "max_connections=200",
	)
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	proc, err := start(cmd, p.log())
	if err != nil {
		t.Fatalf("postgres: start: %v", err)
	}
	p.proc = proc
	isready := filepath.Join(p.bin, "pg_isready")
	err = proc.waitReady(func() error {
		out, err := exec.Command(isready, "-q", "-h", "127.0.0.1", "-p", itoa(p.port), "-U", "postgres", "-t", "1").CombinedOutput()
		if err != nil {
			return fmt.Errorf("pg_isready: %v %s", err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("postgres: %v\nserver log:\n%s", err, logTail(p.log()))
	}
}

// Crash stops the server abruptly, as pg_ctl stop -m immediate does (it
// sends SIGQUIT): the server exits at once without a checkpoint, and the
// next Start runs crash recovery from the WAL.
func (p *Postgres) Crash(t testing.TB) {
	t.Helper()
	p.signal(t, syscall.SIGQUIT)
}

// Stop stops the server cleanly (SIGINT, pg_ctl's fast mode) if it is
// running.
func (p *Postgres) Stop() error {
	if p.proc == nil {
		return nil
	}
	err := p.proc.stop(syscall.SIGINT)
	p.proc = nil
	return err
}

func (p *Postgres) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if p.proc == nil {
		t.Fatal("postgres: the server is not running")
	}
	err := p.proc.stop(sig)
	p.proc = nil
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
}
