// Command findbench measures discovery.Find as programs meet it, against
// the I/O floor and against Python's importlib.metadata.
//
// In one run it writes synthetic workspaces (package synthws) of 100, 1,000
// and 10,000 modules two folders deep (100 in each first-level folder), with
// every module declaring entry points and with one module in eight
// declaring them, 3 entry points in 2 groups each, and the equivalent
// Python distributions, in a temporary directory. Find and Python are asked
// for one of the groups, which holds 2 entry points of each declaring
// module. For each workspace it prints two tables.
//
// First calls, as a program that discovers its plugins at start-up meets
// them: each sample is a new process that times one call from inside it,
// after its start-up and imports, with the files in the page cache:
//
//   - Find: discovery.Find with WithWorkspace and WithGroup;
//   - floor: reading the files Find reads (go.work, each module's
//     entry_points.txt and, for the modules that have one, the head of
//     go.mod up to its module directive) with the functions Find reads
//     them with, and Find's parallelism, and doing nothing else (not even
//     the listing of the directories holding modules without an
//     entry_points.txt, with which Find tells them from missing ones);
//   - Python: importlib.metadata.entry_points(group=...) with sys.path
//     holding the synthetic distributions alone, so that it reads what Find
//     reads and nothing else (the equivalent of
//     distributions(path=[dir])).
//
// The three are interleaved, sample after sample, so that they see the
// same load. The table gives their medians, Find/floor and Python/Find.
//
// Warm calls, as a long-running program that calls Find (or Load, Lookup,
// Discover, which call it) again meets them: the same three, called over
// and over in one process each (Python's kept running), interleaved call
// by call; the table adds the bytes and allocations of Find per module.
//
// Usage:
//
//	go run ./discovery/internal/cmd/findbench [-sizes 100,1000,10000] [-every 8] [-samples 15] [-python python3] [-time 2s]
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/go-entrypoints/entrypoints/discovery"
	"github.com/go-entrypoints/entrypoints/discovery/internal/parallel"
	"github.com/go-entrypoints/entrypoints/discovery/internal/smallfile"
	"github.com/go-entrypoints/entrypoints/discovery/internal/synthws"
)

// childEnv names the environment variable that makes findbench a child
// process timing one first call (see child).
const childEnv = "FINDBENCH_CHILD"

func main() {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := child(os.Stdout, mode, os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "findbench %s: %v\n", mode, err)
			os.Exit(1)
		}
		return
	}
	sizes := flag.String("sizes", "100,1000,10000", "comma-separated `list` of workspace sizes, in modules")
	every := flag.Int("every", 8, "also measure workspaces where one module in `n` declares an entry point (0: skip)")
	samples := flag.Int("samples", 15, "`number` of first calls timed of each, in new processes")
	python := flag.String("python", "python3", "Python `interpreter` to compare with; empty to skip")
	target := flag.Duration("time", 2*time.Second, "time to spend timing warm calls of each `row`, at least 7 calls of each")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: findbench [flags]\n\nTimes discovery.Find against the I/O floor and Python's importlib.metadata.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 || *samples < 1 {
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
	var shapes []synthws.Shape
	for _, e := range []int{1, *every} {
		if e < 1 || e == 1 && len(shapes) > 0 {
			continue
		}
		for _, n := range ns {
			shapes = append(shapes, synthws.Shape{Modules: n, Every: e})
		}
	}
	self, err := os.Executable()
	if err == nil {
		err = run(os.Stdout, options{shapes: shapes, python: *python, samples: *samples, target: *target, self: self})
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "findbench: %v\n", err)
		os.Exit(1)
	}
}

// options are what run measures, and how.
type options struct {
	shapes  []synthws.Shape
	python  string        // interpreter, or "" to skip Python
	samples int           // first calls of each
	target  time.Duration // time to spend on the warm calls of a row
	self    string        // the findbench executable, run as child
}

// A result is one row of both tables.
type result struct {
	shape synthws.Shape
	// First calls, each in a new process.
	findFirst, floorFirst, pythonFirst time.Duration
	// Warm calls.
	find, floor, python             time.Duration
	calls                           int
	bytesPerModule, allocsPerModule float64
}

func run(w io.Writer, o options) error {
	dir, err := os.MkdirTemp("", "findbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	pyVersion := "Python skipped"
	if o.python != "" {
		out, err := exec.Command(o.python, "--version").CombinedOutput()
		if err != nil {
			return fmt.Errorf("running %s --version: %v; install Python 3, or pass -python '' to skip the comparison", o.python, err)
		}
		pyVersion = strings.TrimSpace(string(out))
	}
	fmt.Fprintf(w, "findbench: %s, %s/%s, GOMAXPROCS=%d, %d CPUs; %s\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), pyVersion)

	var results []result
	for i, s := range o.shapes {
		sub := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			return err
		}
		r, err := measure(sub, s, o)
		if err != nil {
			return fmt.Errorf("%d modules, %s declaring: %w", s.Modules, declaring(s), err)
		}
		results = append(results, r)
		// Free the files of this workspace before the next one.
		if err := os.RemoveAll(sub); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "First call in a new process (medians of %d, interleaved)\n\n", o.samples)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
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
	fmt.Fprintf(w, "\nWarm calls in a running process (medians of %s, interleaved)\n\n", calls)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "modules\tdeclaring\tFind\tfloor\tPython\tFind/floor\tPython/Find\tB/module\tallocs/module\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.2fx\t%s\t%.0f\t%.1f\t\n",
			r.shape.Modules, declaring(r.shape), dur(r.find), dur(r.floor), pyDur(r.python),
			float64(r.find)/float64(r.floor), ratio(r.python, r.find), r.bytesPerModule, r.allocsPerModule)
	}
	return tw.Flush()
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

// measure writes a workspace and Python distributions of shape s in dir and
// times them.
func measure(dir string, s synthws.Shape, o options) (result, error) {
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
	if o.python != "" {
		if err := synthws.WritePython(pyDir, s); err != nil {
			return r, err
		}
	}
	args := []string{goDir, strconv.Itoa(s.Modules), strconv.Itoa(s.Every)}

	// First calls. A first round, not kept, puts the files in the page
	// cache.
	var finds, floors, pythons []time.Duration
	for i := range o.samples + 1 {
		find, err := runChild(o.self, "find", args)
		if err != nil {
			return r, err
		}
		floor, err := runChild(o.self, "floor", args)
		if err != nil {
			return r, err
		}
		var python time.Duration
		if o.python != "" {
			if python, err = pythonFirstCall(o.python, pyDir, s.EntryPoints()); err != nil {
				return r, err
			}
		}
		if i > 0 {
			finds, floors, pythons = append(finds, find), append(floors, floor), append(pythons, python)
		}
	}
	r.findFirst, r.floorFirst, r.pythonFirst = median(finds), median(floors), median(pythons)

	// Warm calls.
	fl := newFloor(goDir, s)
	find := func() (time.Duration, error) { return timeFind(ws.GoWork, s.EntryPoints()) }
	timers := []func() (time.Duration, error){find, fl.time}
	if o.python != "" {
		py, err := startPython(o.python, pyDir, s.EntryPoints())
		if err != nil {
			return r, err
		}
		defer py.close()
		timers = append(timers, py.call)
	}
	// A first call of each tells how many calls fit in the target time.
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
	r.calls = max(7, min(1001, int(o.target/max(cost, 1))))
	for range r.calls {
		if err := call(true); err != nil {
			return r, err
		}
	}
	r.find, r.floor = median(times[0]), median(times[1])
	if o.python != "" {
		r.python = median(times[2])
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

// runChild runs findbench as a child process timing one call of mode, and
// returns the duration it reports.
func runChild(self, mode string, args []string) (time.Duration, error) {
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("child process timing %s: %w", mode, err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("child process timing %s printed %q: %w", mode, out, err)
	}
	return time.Duration(ns), nil
}

// child times one call of mode ("find" or "floor") on the synthetic
// workspace that args describe (its directory, modules and every) and
// prints its duration in nanoseconds.
func child(w io.Writer, mode string, args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("want 3 arguments (directory, modules, every), got %q", args)
	}
	n, err1 := strconv.Atoi(args[1])
	every, err2 := strconv.Atoi(args[2])
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	s := synthws.Shape{Modules: n, Every: every}
	var (
		d   time.Duration
		err error
	)
	switch mode {
	case "find":
		d, err = timeFind(filepath.Join(args[0], "go.work"), s.EntryPoints())
	case "floor":
		d, err = newFloor(args[0], s).time()
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, d.Nanoseconds())
	return err
}

// discard is the logger Find is given, so that it logs nothing.
var discard = slog.New(slog.DiscardHandler)

// timeFind times a call of discovery.Find on the workspace of gowork, and
// checks that it found want entry points.
func timeFind(gowork string, want int) (time.Duration, error) {
	start := time.Now()
	eps, err := discovery.Find(discovery.WithWorkspace(gowork), discovery.WithGroup(synthws.Group), discovery.WithLogger(discard))
	d := time.Since(start)
	switch {
	case err != nil:
		return 0, err
	case len(eps) != want:
		return 0, fmt.Errorf("discovery.Find found %d entry points, want %d", len(eps), want)
	}
	return d, nil
}

// pythonScript times importlib.metadata.entry_points(group=...) over the
// distributions in sys.argv[1] alone: sys.path holds that directory only
// once the imports are done. With "first" as its last argument, it prints
// the duration, in seconds, of its first call and exits; with "warm", after
// a call that checks the number of entry points, it answers each line of
// its input with the duration of one more call.
const pythonScript = `
import sys, time
site, want, group, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
from importlib.metadata import entry_points
sys.path[:] = [site]
def once():
    return len(entry_points(group=group))
start = time.perf_counter()
n = once()
d = time.perf_counter() - start
if n != want:
    sys.exit(f"entry_points found {n} entry points, want {want}")
if mode == "first":
    print(d, flush=True)
    sys.exit(0)
print("ready", flush=True)
for _ in sys.stdin:
    start = time.perf_counter()
    once()
    print(time.perf_counter() - start, flush=True)
`

// pythonCommand returns the command that runs pythonScript.
func pythonCommand(python, site string, want int, mode string) *exec.Cmd {
	// -I -S: no user or site packages, nor their imports.
	cmd := exec.Command(python, "-I", "-S", "-c", pythonScript, site, strconv.Itoa(want), synthws.Group, mode)
	cmd.Stderr = os.Stderr
	return cmd
}

// pythonFirstCall returns the duration of the first call of
// importlib.metadata.entry_points in a new Python process.
func pythonFirstCall(python, site string, want int) (time.Duration, error) {
	out, err := pythonCommand(python, site, want, "first").Output()
	if err != nil {
		return 0, fmt.Errorf("%s: %w (see its errors above)", python, err)
	}
	return parseSeconds(string(out))
}

func parseSeconds(s string) (time.Duration, error) {
	secs, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("python answered %q: %w", s, err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// A pythonTimer is a Python process running pythonScript in warm mode.
type pythonTimer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startPython(python, site string, want int) (*pythonTimer, error) {
	cmd := pythonCommand(python, site, want, "warm")
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
	return parseSeconds(p.out.Text())
}

func (p *pythonTimer) close() {
	p.in.Close()
	p.cmd.Wait()
}

// A floor reads the files that Find reads, with the functions and the
// parallelism Find reads them with, and does nothing else: go.work, the
// entry_points.txt of each module and, for those that have one, the head of
// its go.mod. Their names are made before the clock starts.
type floor struct {
	gowork string
	files  [][2]string // entry_points.txt and go.mod of each module
	n      atomic.Int64
}

// newFloor returns the floor of the synthetic workspace of shape s in dir.
func newFloor(dir string, s synthws.Shape) *floor {
	dirs := synthws.Dirs(dir, s)
	f := &floor{gowork: filepath.Join(dir, "go.work"), files: make([][2]string, len(dirs))}
	for i, d := range dirs {
		f.files[i] = [2]string{filepath.Join(d, discovery.FileName), filepath.Join(d, "go.mod")}
	}
	return f
}

// time reads the files and returns how long it took.
func (f *floor) time() (time.Duration, error) {
	const limit = 1 << 20
	start := time.Now()
	data, err := smallfile.Read(nil, limit, f.gowork)
	if err != nil {
		return 0, err
	}
	f.n.Add(int64(len(data)))
	var failed atomic.Pointer[error]
	parallel.For(len(f.files), func(i int) {
		var buf [1024]byte
		data, ok, err := smallfile.ReadIfExists(buf[:0], limit, f.files[i][0])
		if err == nil && !ok {
			return
		}
		if err == nil {
			f.n.Add(int64(len(data)))
			data, _, err = smallfile.ReadHead(buf[:0], limit, "module", f.files[i][1])
			f.n.Add(int64(len(data)))
		}
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	})
	d := time.Since(start)
	if err := failed.Load(); err != nil {
		return 0, *err
	}
	return d, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
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
