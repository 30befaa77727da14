package bolt_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/passivation/storetest"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path))
	}
	goleak.VerifyTestMain(m)
}

var ctx = context.Background()

// TestStore runs the conformance tests against the bolt store, reopening
// its file for the records that must outlive Close.
func TestStore(t *testing.T) {
	open := func(t *testing.T) passivation.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
		require.NoError(t, err, "Open")
		return s
	}
	storetest.Run(t, open)
	storetest.RunReopen(t, open, func(t *testing.T, s passivation.Store) passivation.Store {
		path := s.(*bolt.Store).Path()
		require.NoError(t, s.Close(), "Close")
		s, err := bolt.Open(path, bolt.Options{})
		require.NoError(t, err, "Open(%s) again", path)
		return s
	})
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := bolt.Open(path, bolt.Options{})
	require.NoError(t, err, "Open")
	defer s.Close()

	const timeout = 200 * time.Millisecond
	start := time.Now()
	_, err = bolt.Open(path, bolt.Options{LockTimeout: timeout})
	elapsed := time.Since(start)
	require.ErrorIs(t, err, bolt.ErrLocked, "second Open(%s)", path)
	assert.Contains(t, err.Error(), path, "the error names the file")
	assert.Contains(t, err.Error(), "locked by another process", "the error says why")
	assert.GreaterOrEqual(t, elapsed, timeout-100*time.Millisecond, "Open gave up well before its timeout")
	assert.Less(t, elapsed, timeout+time.Second, "Open gave up long after its timeout")

	// Once the first store is closed, the file opens.
	require.NoError(t, s.Close(), "Close")
	s2, err := bolt.Open(path, bolt.Options{LockTimeout: timeout})
	require.NoError(t, err, "Open after Close")
	require.NoError(t, s2.Close(), "Close")
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := bolt.Open(filepath.Join(dir, "missing", "state.db"), bolt.Options{})
	assert.ErrorIs(t, err, os.ErrNotExist, "Open in a missing directory")

	garbage := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o600), "WriteFile")
	_, err = bolt.Open(garbage, bolt.Options{})
	assert.Error(t, err, "Open of a file that is no database")
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := bolt.Open(path, bolt.Options{})
	require.NoError(t, err, "Open")
	require.NoError(t, s.Close(), "Close")
	fi, err := os.Stat(path)
	require.NoError(t, err, "Stat")
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "mode of the store file")
}

// The crash test: a child process saves records in a loop and reports
// each acknowledged save on stdout; the parent kills it with SIGKILL in
// the middle and checks that the file holds every acknowledged save, whole.

const (
	crashChildEnv = "PASSIVATION_TEST_CRASH_CHILD"
	crashObjects  = 8
)

// crashID is the id of the child's i-th object.
func crashID(i int) remoting.ObjectID { return remoting.NameID(fmt.Sprint("crash-", i)) }

// crashData is the n-th state of object i: its length and every byte
// depend on i and n, so that a torn or mixed-up record shows.
func crashData(i int, n uint64) []byte {
	size := 64 + int(n*977%6000)
	data := bytes.Repeat([]byte{byte(n) ^ byte(i*37)}, size)
	binary.BigEndian.PutUint64(data, n)
	data[8] = byte(i)
	return data
}

// checkCrashData returns n if data is crashData(i, n) for some n.
func checkCrashData(i int, data []byte) (uint64, error) {
	if len(data) < 64 {
		return 0, fmt.Errorf("record of %d bytes", len(data))
	}
	n := binary.BigEndian.Uint64(data)
	if want := crashData(i, n); !bytes.Equal(data, want) {
		return n, fmt.Errorf("record %d of object %d is corrupt: %d bytes, want %d", n, i, len(data), len(want))
	}
	return n, nil
}

// crashChild runs in the child process: it saves states of crashObjects
// objects in turn, for ever, and prints "i n version" for each save that
// returned. It returns only on an error.
func crashChild(path string) int {
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	versions := make([]uint64, crashObjects)
	out := bufio.NewWriter(os.Stdout)
	for n := uint64(1); ; n++ {
		for i := range crashObjects {
			v, err := s.Save(ctx, crashID(i), crashData(i, n), versions[i])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			versions[i] = v
			// One write per line, after the save returned: a line the
			// parent reads is an acknowledged save.
			fmt.Fprintf(out, "%d %d %d\n", i, n, v)
			out.Flush()
		}
	}
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err, "StdoutPipe")
	require.NoError(t, cmd.Start(), "start the child")

	type ack struct{ n, version uint64 }
	acked := make([]ack, crashObjects)
	lines := make(chan string)
	readDone := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		readDone <- sc.Err()
	}()
	record := func(line string) {
		f := strings.Fields(line)
		require.Len(t, f, 3, "child line %q", line)
		i, err1 := strconv.Atoi(f[0])
		n, err2 := strconv.ParseUint(f[1], 10, 64)
		v, err3 := strconv.ParseUint(f[2], 10, 64)
		require.NoError(t, errors.Join(err1, err2, err3), "child line %q", line)
		acked[i] = ack{n, v}
	}

	// Let the child save for a while, then kill it in the middle of
	// whatever it is doing.
	const wantAcks = 400
	deadline := time.After(10 * time.Second)
	var killAt <-chan time.Time
	count := 0
read:
	for count < wantAcks {
		select {
		case line, ok := <-lines:
			if !ok {
				break read
			}
			record(line)
			count++
			if count == 1 {
				killAt = time.After(time.Second)
			}
		case <-killAt:
			break read
		case <-deadline:
			break read
		}
	}
	require.NoError(t, cmd.Process.Kill(), "kill the child")
	for line := range lines { // what the child wrote before it died
		if line != "" && strings.Count(line, " ") == 2 {
			record(line)
			count++
		}
	}
	require.NoError(t, <-readDone, "read the child's output")
	err = cmd.Wait()
	require.Error(t, err, "the child died of the kill")
	require.Positive(t, count, "acknowledged saves before the kill; child stderr: %s", stderr.String())
	t.Logf("the child acknowledged %d saves before it was killed", count)

	s, err := bolt.Open(path, bolt.Options{})
	require.NoError(t, err, "Open after the crash")
	for i := range crashObjects {
		rec, err := s.Load(ctx, crashID(i))
		if acked[i].version == 0 {
			if err != nil {
				assert.ErrorIs(t, err, passivation.ErrNotFound, "Load(%d) of an object never acknowledged", i)
			}
			continue
		}
		require.NoError(t, err, "Load(%d)", i)
		n, err := checkCrashData(i, rec.Data)
		assert.NoError(t, err, "data of object %d", i)
		assert.GreaterOrEqual(t, n, acked[i].n, "object %d: state %d, but the child acknowledged state %d", i, n, acked[i].n)
		assert.GreaterOrEqual(t, rec.Version, acked[i].version, "object %d: version", i)
	}
	err = s.List(ctx, func(id remoting.ObjectID, rec passivation.Record) error {
		for i := range crashObjects {
			if id == crashID(i) {
				_, err := checkCrashData(i, rec.Data)
				return err
			}
		}
		return fmt.Errorf("unknown id %v", id)
	})
	assert.NoError(t, err, "List after the crash")
	require.NoError(t, s.Close(), "Close")

	// bbolt's own consistency check of the file.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	require.NoError(t, err, "bbolt.Open")
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	assert.NoError(t, err, "bbolt Check of the file after the crash")
}

// BenchmarkStore measures Save and Load on a file in the temporary
// directory (each Save commits and fsyncs), beside the other stores':
//
//	go test -run X -bench Store ./passivation/bolt
func BenchmarkStore(b *testing.B) {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), bolt.Options{})
	require.NoError(b, err, "Open")
	b.Cleanup(func() { s.Close() })
	storetest.Benchmark(b, s)
}
