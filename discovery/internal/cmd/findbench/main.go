// Command findbench measures how fast discovery.Find reads a workspace,
// against the I/O floor and against Python's importlib.metadata.
//
// In one run it writes synthetic workspaces (package synthws) of 100, 1,000
// and 10,000 modules, with every module declaring an entry point and with
// one module in ten declaring one, in a temporary directory. For each it
// times, in process and warm, the median of repeated calls of:
//
//   - Find: discovery.Find with WithWorkspace and WithGroup;
//   - floor: a plain loop reading the same go.work, go.mod and
//     entry_points.txt files with os.ReadFile, with the parallelism Find
//     uses (GOMAXPROCS workers above 32 modules);
//   - Python: importlib.metadata.entry_points(group=...) over the
//     equivalent distributions, in one python3 process;
//
// and prints a table with the ratios Find/floor and Python/Find, the time
// per module, and the bytes and allocations of Find per module.
//
// Usage:
//
//	go run ./discovery/internal/cmd/findbench [-sizes 100,1000,10000] [-every 10] [-python python3] [-time 1s]
package main

import (
	"bytes"
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
	"github.com/go-entrypoints/entrypoints/discovery/internal/synthws"
)

func main() {
	sizes := flag.String("sizes", "100,1000,10000", "comma-separated `list` of workspace sizes, in modules")
	every := flag.Int("every", 10, "also measure workspaces where one module in `n` declares an entry point (0: skip)")
	python := flag.String("python", "python3", "Python `interpreter` to compare with; empty to skip")
	target := flag.Duration("time", time.Second, "time to spend timing each `measurement`, at least 5 calls")
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
	shape                  synthws.Shape
	find, floor, python    time.Duration
	findReps, pythonReps   int
	bytesPerMod, allocsPer float64
}

func run(w io.Writer, shapes []synthws.Shape, python string, target time.Duration) error {
	dir, err := os.MkdirTemp("", "findbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	pyVersion := "skipped"
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
	fmt.Fprintln(tw, "modules\tdeclaring\tFind\tfloor\tPython\tFind/floor\tPython/Find\tFind/module\tB/module\tallocs/module\t")
	for _, r := range results {
		declaring := "all"
		if r.shape.Every > 1 {
			declaring = fmt.Sprintf("1 in %d", r.shape.Every)
		}
		py, ratio := "-", "-"
		if r.python > 0 {
			py = dur(r.python)
			ratio = fmt.Sprintf("%.1fx", float64(r.python)/float64(r.find))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.2fx\t%s\t%s\t%.0f\t%.1f\t\n",
			r.shape.Modules, declaring, dur(r.find), dur(r.floor), py,
			float64(r.find)/float64(r.floor), ratio,
			dur(r.find/time.Duration(r.shape.Modules)), r.bytesPerMod, r.allocsPer)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmedians of repeated warm calls in one process (Find/floor interleaved: %s calls each; Python: %s calls)\n",
		reps(results, func(r result) int { return r.findReps }), reps(results, func(r result) int { return r.pythonReps }))
	return nil
}

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
	want := s.EntryPoints()
	logger := slog.New(slog.DiscardHandler)
	var findErr error
	find := func() {
		eps, err := discovery.Find(discovery.WithWorkspace(ws.GoWork), discovery.WithGroup(synthws.Group), discovery.WithLogger(logger))
		switch {
		case err != nil:
			findErr = err
		case len(eps) != want:
			findErr = fmt.Errorf("discovery.Find found %d entry points, want %d", len(eps), want)
		}
	}
	fl := newFloor(ws)
	floor := func() {
		if err := fl.read(); err != nil {
			findErr = err
		}
	}

	// Warm the page cache and the runtime, then pick the number of calls.
	find()
	floor()
	if findErr != nil {
		return r, findErr
	}
	start := time.Now()
	find()
	r.findReps = max(5, min(1001, int(target/max(time.Since(start), 1))))

	var findTimes, floorTimes []time.Duration
	for range r.findReps {
		start := time.Now()
		find()
		findTimes = append(findTimes, time.Since(start))
		start = time.Now()
		floor()
		floorTimes = append(floorTimes, time.Since(start))
	}
	if findErr != nil {
		return r, findErr
	}
	r.find, r.floor = median(findTimes), median(floorTimes)

	// Allocations, measured apart so that the floor's do not count.
	calls := max(3, r.findReps/4)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range calls {
		find()
	}
	runtime.ReadMemStats(&after)
	per := float64(calls * s.Modules)
	r.bytesPerMod = float64(after.TotalAlloc-before.TotalAlloc) / per
	r.allocsPer = float64(after.Mallocs-before.Mallocs) / per

	if python == "" {
		return r, nil
	}
	if err := synthws.WritePython(pyDir, s); err != nil {
		return r, err
	}
	r.python, r.pythonReps, err = timePython(python, pyDir, want, target)
	return r, err
}

// pythonScript times importlib.metadata.entry_points(group=...) with the
// distributions in sys.argv[1] first on sys.path: one warm-up call, then
// repeated calls for about sys.argv[3] seconds (5 to 101 calls). It prints
// the median time in seconds and the number of calls.
const pythonScript = `
import statistics, sys, time
site, want, target = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sys.path.insert(0, site)
from importlib.metadata import entry_points
def once():
    return len(entry_points(group=` + "'" + synthws.Group + "'" + `))
start = time.perf_counter()
n = once()
first = time.perf_counter() - start
if n != want:
    sys.exit(f"entry_points found {n} entry points, want {want}")
reps = max(5, min(101, int(target / first)))
times = []
for _ in range(reps):
    start = time.perf_counter()
    once()
    times.append(time.perf_counter() - start)
print(statistics.median(times), reps)
`

func timePython(python, site string, want int, target time.Duration) (time.Duration, int, error) {
	// -I -S: no user or site packages, so that Python reads our
	// distributions and nothing else.
	cmd := exec.Command(python, "-I", "-S", "-c", pythonScript, site, strconv.Itoa(want), strconv.FormatFloat(target.Seconds(), 'f', -1, 64))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("timing importlib.metadata with %s: %v: %s", python, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var secs float64
	var n int
	if _, err := fmt.Sscan(string(out), &secs, &n); err != nil {
		return 0, 0, fmt.Errorf("reading the output of %s %q: %v", python, out, err)
	}
	return time.Duration(secs * float64(time.Second)), n, nil
}

// floor reads the files that any discovery of a workspace must read, and
// nothing else: go.work, and each module's go.mod and entry_points.txt.
type floor struct {
	gowork string
	files  [][2]string // go.mod, entry_points.txt of each module
	n      atomic.Int64
}

func newFloor(ws *synthws.Workspace) *floor {
	f := &floor{gowork: ws.GoWork, files: make([][2]string, len(ws.Dirs))}
	for i, d := range ws.Dirs {
		f.files[i] = [2]string{filepath.Join(d, "go.mod"), filepath.Join(d, discovery.FileName)}
	}
	return f
}

// read reads the files, with the parallelism discovery.Find uses.
func (f *floor) read() error {
	data, err := os.ReadFile(f.gowork)
	if err != nil {
		return err
	}
	f.n.Store(int64(len(data)))
	var (
		mu   sync.Mutex
		errs []error
	)
	parallel(len(f.files), func(i int) {
		var n int
		for _, name := range f.files[i] {
			data, err := os.ReadFile(name)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			n += len(data)
		}
		f.n.Add(int64(n))
	})
	return errors.Join(errs...)
}

// parallel calls f(0), ..., f(n-1) on up to GOMAXPROCS goroutines, or
// inline when n is small: the same policy as discovery's parallel, which
// the floor must match.
func parallel(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n/16)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
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

// reps describes the number of calls of each row, such as "5-1001".
func reps(rs []result, f func(result) int) string {
	lo, hi := 0, 0
	for i, r := range rs {
		n := f(r)
		if i == 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}
