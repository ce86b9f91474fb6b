// Package discovery finds and loads the entry points declared by the
// modules of a Go workspace, for any group of plugins a program defines,
// and registers rendezvous handlers from them: the Go counterpart of
// Python's importlib.metadata.entry_points, of stevedore's managers and of
// PyTorch's _register_out_of_tree_handlers.
//
// A module declares entry points in an entry_points.txt file at its root:
//
//	# comment
//	[myapp.exporters]
//	csv = example.com/csvexp:New
//
// A user adds the module to the workspace of a program (go work use
// ./csvexp) and the program loads the group's plugins, each made the type
// it wants (see Load for the rule):
//
//	exporters, err := discovery.Load[Exporter]("myapp.exporters")
//	csv, err := discovery.Lookup[Exporter]("myapp.exporters", "csv")
//
// Find lists entry points without loading them, and EntryPoint.Load loads
// one. Discover is the case of group torchrun.handlers: it loads each as a
// registry.Creator and registers it in the registry package's default
// registry. Where PyTorch lets a second registration of the same creator
// pass, registry.Register refuses any name registered before (Go cannot
// tell two funcs apart reliably); Discover remembers what it registered in
// each registry, so calling it again is harmless.
//
// Go cannot import code at run time, so an entry point's code reaches the
// program in one of two ways. Linking: the entrypoints command, run by go
// generate in the program's main package, writes a file that imports every
// package named by an entry point of the workspace and passes its symbols to
// Link; the entry points then travel with the binary wherever it runs.
// Dynamic loading: a program that imports package discovery/dynamic builds
// the declared but unlinked entry points of its workspace as a Go plugin and
// loads them. When neither applies, the error says which entry point is
// missing, where it is declared, and what command fixes it.
//
// The workspace is found as the go command finds it (GOWORK, then the
// nearest go.work), and only counts if the running binary was built from it;
// WithWorkspace names one explicitly.
package discovery
