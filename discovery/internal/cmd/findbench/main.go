// Command findbench measures how fast discovery.Find reads a workspace,
// against the I/O floor and against Python's importlib.metadata.
//
// In one run it writes synthetic workspaces (package synthws) of 100, 1,000
// and 10,000 modules, with every module declaring an entry point and with
// one module in ten declaring one, in a temporary directory. For each it
// times, in process and warm (after the files have aged past the window in
// which Find does not trust their times), the median of repeated calls of:
//
//   - Find: discovery.Find with WithWorkspace and WithGroup;
//   - floor: a plain loop reading the same go.work, go.mod and
//     entry_points.txt files, with the parallelism Find uses (GOMAXPROCS
//     workers above 32 modules), each file with the fewest system calls
//     (open, read to the end, close; os.ReadFile elsewhere than unix);
//   - ReadFile: the same loop with os.ReadFile, for reference;
//   - Python: importlib.metadata.entry_points(group=...) over the
//     equivalent distributions, in one python3 process kept running;
//
// The four are interleaved, call after call, so that they see the same
// load. It prints a table with the ratios Find/floor and Python/Find, the
// time per module, and the bytes and allocations of Find per module.
//
// Warm calls of Find reuse what earlier calls read of unchanged modules, as
// a long-running program's do; a program that discovers once pays for a
// first call. A second table gives first calls: Find on a copy of go.work
// it has not read before (so that it reads every module), timed alongside
// the floor, and Python's first call in a new process.
//
// Usage:
//
//	go run ./discovery/internal/cmd/findbench [-sizes 100,1000,10000] [-every 10] [-python python3] [-time 2s]
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/fileid"
	"github.com/go-entrypoints/entrypoints/discovery/internal/parallel"
	"github.com/go-entrypoints/entrypoints/discovery/internal/synthws"
)

func main() {
	sizes := flag.String("sizes", "100,1000,10000", "comma-separated `list` of workspace sizes, in modules")
	every := flag.Int("every", 10, "also measure workspaces where one module in `n` declares an entry point (0: skip)")
	python := flag.String("python", "python3", "Python `interpreter` to compare with; empty to skip")
	target := flag.Duration("time", 2*time.Second, "time to spend timing each `row`, at least 7 calls of each")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: findbench [flags]\n\nTimes discovery.Find against the I/O floor and Python's importlib.metadata.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	var ns []int
	for f := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "findbench: invalid -sizes element %q: want a positive number of modules\n", f)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	shapes := []synthws.Shape{}
	for _, e := range []int{1, *every} {
		if e < 1 || e == 1 && len(shapes) > 0 {
			continue
		}
		for _, n := range ns {
			shapes = append(shapes, synthws.Shape{Modules: n, Every: e})
		}
	}
	if err := run(os.Stdout, shapes, *python, *target); err != nil {
		fmt.Fprintf(os.Stderr, "findbench: %v\n", err)
		os.Exit(1)
	}
}

// A result is one row of the table.
type result struct {
	shape                         synthws.Shape
	find, floor, readFile, python time.Duration
	calls                         int
	// First calls: Find on a workspace it has not read before in this
	// process, the floor timed alongside, and Python's first call in a
	// new process.
	findFirst, floorFirst, pythonFirst time.Duration
	bytesPerModule, allocsPerModule    float64
}

func run(w io.Writer, shapes []synthws.Shape, python string, target time.Duration) error {
	dir, err := os.MkdirTemp("", "findbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	pyVersion := "Python skipped"
	if python != "" {
		out, err := exec.Command(python, "--version").CombinedOutput()
		if err != nil {
			return fmt.Errorf("running %s --version: %v; install Python 3, or pass -python '' to skip the comparison", python, err)
		}
		pyVersion = strings.TrimSpace(string(out))
	}
	fmt.Fprintf(w, "findbench: %s, %s/%s, GOMAXPROCS=%d, %d CPUs; %s\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), pyVersion)

	var results []result
	for i, s := range shapes {
		sub := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			return err
		}
		r, err := measure(sub, s, python, target)
		if err != nil {
			return fmt.Errorf("%d modules, 1 in %d declaring: %w", s.Modules, max(s.Every, 1), err)
		}
		results = append(results, r)
		// Free the files of this workspace before the next one.
		if err := os.RemoveAll(sub); err != nil {
			return err
		}
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "modules\tdeclaring\tFind\tfloor\tReadFile\tPython\tFind/floor\tPython/Find\tFind/module\tB/module\tallocs/module\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%.2fx\t%s\t%s\t%.0f\t%.1f\t\n",
			r.shape.Modules, declaring(r.shape), dur(r.find), dur(r.floor), dur(r.readFile), pyDur(r.python),
			float64(r.find)/float64(r.floor), ratio(r.python, r.find),
			dur(r.find/time.Duration(r.shape.Modules)), r.bytesPerModule, r.allocsPerModule)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nFirst calls: Find on a workspace this process has not read before (no cache), Python in a new process\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "modules\tdeclaring\tFind\tfloor\tPython\tFind/floor\tPython/Find\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.2fx\t%s\t\n",
			r.shape.Modules, declaring(r.shape), dur(r.findFirst), dur(r.floorFirst), pyDur(r.pythonFirst),
			float64(r.findFirst)/float64(r.floorFirst), ratio(r.pythonFirst, r.findFirst))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	lo, hi := results[0].calls, results[0].calls
	for _, r := range results {
		lo, hi = min(lo, r.calls), max(hi, r.calls)
	}
	calls := strconv.Itoa(lo)
	if hi > lo {
		calls += " to " + strconv.Itoa(hi)
	}
	fmt.Fprintf(w, "\nmedians of %s warm calls of each (%d first calls), interleaved; warm Python in one process kept running\n", calls, firstCalls)
	return nil
}

func declaring(s synthws.Shape) string {
	if s.Every > 1 {
		return fmt.Sprintf("1 in %d", s.Every)
	}
	return "all"
}

func pyDur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return dur(d)
}

// ratio returns python/find as "4.2x", or "-" if Python was not timed.
func ratio(python, find time.Duration) string {
	if python == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fx", float64(python)/float64(find))
}

// firstCalls is the number of first calls timed for each row.
const firstCalls = 9

// measure writes a workspace and Python distributions of shape s in dir and
// times them.
func measure(dir string, s synthws.Shape, python string, target time.Duration) (result, error) {
	r := result{shape: s}
	goDir, pyDir := filepath.Join(dir, "go"), filepath.Join(dir, "site-packages")
	for _, d := range []string{goDir, pyDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return r, err
		}
	}
	ws, err := synthws.Write(goDir, s)
	if err != nil {
		return r, err
	}
	written := time.Now()
	want := s.EntryPoints()
	logger := slog.New(slog.DiscardHandler)
	findIn := func(gowork string) (time.Duration, error) {
		start := time.Now()
		eps, err := discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup(synthws.Group), discovery.WithLogger(logger))
		d := time.Since(start)
		switch {
		case err != nil:
			return 0, err
		case len(eps) != want:
			return 0, fmt.Errorf("discovery.Find found %d entry points, want %d", len(eps), want)
		}
		return d, nil
	}
	find := func() (time.Duration, error) { return findIn(ws.GoWork) }
	fl := newFloor(ws)
	timers := []func() (time.Duration, error){
		find,
		func() (time.Duration, error) { return fl.time(readLean) },
		func() (time.Duration, error) { return fl.time(readFile) },
	}
	if python != "" {
		if err := synthws.WritePython(pyDir, s); err != nil {
			return r, err
		}
		py, err := startPython(python, pyDir, want, "warm")
		if err != nil {
			return r, err
		}
		defer py.close()
		timers = append(timers, py.call)
	}

	// Repeated calls of Find reuse what they read of files that have not
	// changed for some time (fileid.RacyWindow): wait until the files are
	// as old as those of a workspace in use.
	time.Sleep(time.Until(written.Add(fileid.RacyWindow)))

	// A first call of each warms the page cache and tells how many calls
	// fit in the target time.
	times := make([][]time.Duration, len(timers))
	var cost time.Duration
	call := func(keep bool) error {
		for i, f := range timers {
			d, err := f()
			if err != nil {
				return err
			}
			if keep {
				times[i] = append(times[i], d)
			}
			cost += d
		}
		return nil
	}
	if err := call(false); err != nil {
		return r, err
	}
	r.calls = max(7, min(1001, int(target/max(cost, 1))))
	for range r.calls {
		if err := call(true); err != nil {
			return r, err
		}
	}
	r.find, r.floor, r.readFile = median(times[0]), median(times[1]), median(times[2])
	if python != "" {
		r.python = median(times[3])
	}

	// First calls: Find on copies of go.work it has not read before (so
	// it reads every module, with no cache), interleaved with the floor;
	// Python's first call in a new process.
	data, err := os.ReadFile(ws.GoWork)
	if err != nil {
		return r, err
	}
	var findFirst, floorFirst, pythonFirst []time.Duration
	for i := range firstCalls {
		copyPath := filepath.Join(filepath.Dir(ws.GoWork), fmt.Sprintf("first%d.work", i))
		if err := os.WriteFile(copyPath, data, 0o644); err != nil {
			return r, err
		}
		d, err := findIn(copyPath)
		if err != nil {
			return r, err
		}
		findFirst = append(findFirst, d)
		if d, err = fl.time(readLean); err != nil {
			return r, err
		}
		floorFirst = append(floorFirst, d)
		if python != "" {
			if d, err = pythonFirstCall(python, pyDir, want); err != nil {
				return r, err
			}
			pythonFirst = append(pythonFirst, d)
		}
	}
	r.findFirst, r.floorFirst = median(findFirst), median(floorFirst)
	if python != "" {
		r.pythonFirst = median(pythonFirst)
	}

	// Allocations, measured apart so that the floor's do not count.
	calls := max(3, r.calls/4)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range calls {
		if _, err := find(); err != nil {
			return r, err
		}
	}
	runtime.ReadMemStats(&after)
	perModule := float64(calls * s.Modules)
	r.bytesPerModule = float64(after.TotalAlloc-before.TotalAlloc) / perModule
	r.allocsPerModule = float64(after.Mallocs-before.Mallocs) / perModule
	return r, nil
}

// pythonScript serves timings of importlib.metadata.entry_points(group=...)
// with the distributions in sys.argv[1] first on sys.path: after a warm-up
// call that checks the number of entry points, it answers each line of its
// input with the duration, in seconds, of one more call. With "first" as
// its last argument, it prints the duration of its first call and exits.
const pythonScript = `
import sys, time
site, want = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, site)
from importlib.metadata import entry_points
def once():
    return len(entry_points(group=sys.argv[3]))
if sys.argv[4] == "first":
    start = time.perf_counter()
    n = once()
    print("ready", flush=True)
    print(time.perf_counter() - start, flush=True)
    sys.exit(0 if n == want else f"entry_points found {n} entry points, want {want}")
n = once()
if n != want:
    sys.exit(f"entry_points found {n} entry points, want {want}")
print("ready", flush=True)
for _ in sys.stdin:
    start = time.perf_counter()
    once()
    print(time.perf_counter() - start, flush=True)
`

// pythonFirstCall returns the duration of the first call of
// importlib.metadata.entry_points in a new Python process.
func pythonFirstCall(python, site string, want int) (time.Duration, error) {
	p, err := startPython(python, site, want, "first")
	if err != nil {
		return 0, err
	}
	defer p.close()
	if !p.out.Scan() {
		return 0, errors.New("python stopped answering (see its errors above)")
	}
	secs, err := strconv.ParseFloat(p.out.Text(), 64)
	if err != nil {
		return 0, fmt.Errorf("python answered %q: %w", p.out.Text(), err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// A pythonTimer is a Python process running pythonScript.
type pythonTimer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startPython(python, site string, want int, mode string) (*pythonTimer, error) {
	// -I -S: no user or site packages, so that Python reads our
	// distributions and little else.
	cmd := exec.Command(python, "-I", "-S", "-c", pythonScript, site, strconv.Itoa(want), synthws.Group, mode)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", python, err)
	}
	p := &pythonTimer{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !p.out.Scan() || p.out.Text() != "ready" {
		p.close()
		return nil, fmt.Errorf("%s did not start timing importlib.metadata (see its errors above)", python)
	}
	return p, nil
}

// call times one call of entry_points in the Python process.
func (p *pythonTimer) call() (time.Duration, error) {
	if _, err := io.WriteString(p.in, "\n"); err != nil {
		return 0, fmt.Errorf("python: %w", err)
	}
	if !p.out.Scan() {
		return 0, errors.New("python stopped answering (see its errors above)")
	}
	secs, err := strconv.ParseFloat(p.out.Text(), 64)
	if err != nil {
		return 0, fmt.Errorf("python answered %q: %w", p.out.Text(), err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

func (p *pythonTimer) close() {
	p.in.Close()
	p.cmd.Wait()
}

// floor reads the files that any discovery of a workspace must read, and
// nothing else: go.work, and each module's go.mod and entry_points.txt.
type floor struct {
	gowork string
	files  [][2]string // go.mod, entry_points.txt of each module
	bufs   sync.Pool
	n      atomic.Int64 // bytes read, so that reading is not optimised away
}

func newFloor(ws *synthws.Workspace) *floor {
	f := &floor{gowork: ws.GoWork, files: make([][2]string, len(ws.Dirs))}
	for i, d := range ws.Dirs {
		f.files[i] = [2]string{filepath.Join(d, "go.mod"), filepath.Join(d, discovery.FileName)}
	}
	f.bufs.New = func() any { return new([]byte) }
	return f
}

// time reads the files with read, with the parallelism discovery.Find uses,
// and returns how long it took.
func (f *floor) time(read func(name string, buf *[]byte) (int, error)) (time.Duration, error) {
	start := time.Now()
	var (
		mu   sync.Mutex
		errs []error
	)
	buf := f.bufs.Get().(*[]byte)
	n, err := read(f.gowork, buf)
	f.bufs.Put(buf)
	if err != nil {
		return 0, err
	}
	f.n.Add(int64(n))
	parallel.For(len(f.files), func(i int) {
		buf := f.bufs.Get().(*[]byte)
		defer f.bufs.Put(buf)
		for _, name := range f.files[i] {
			n, err := read(name, buf)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			f.n.Add(int64(n))
		}
	})
	return time.Since(start), errors.Join(errs...)
}

// readFile reads the named file with os.ReadFile; buf is unused.
func readFile(name string, buf *[]byte) (int, error) {
	data, err := os.ReadFile(name)
	return len(data), err
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// dur formats d with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3gs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	case d >= time.Microsecond:
		return fmt.Sprintf("%.3gµs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%dns", d)
}
