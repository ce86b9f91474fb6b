// Command torchrun runs the rendezvous of a distributed job the way
// PyTorch's torchrun does, with backends found by discovery.Discover: it
// creates the handler named by --rdzv-backend, runs one round and prints
// this node's rank, the world size and the bootstrap address.
//
// On each node of a job with the static backend:
//
//	torchrun --nnodes 2 --rdzv-endpoint HOST:29500 --node-rank 0
//
// With --standalone it starts an embedded etcd and --nnodes local nodes on
// the etcd backend, and shows the whole job on one machine, phase by phase:
//
//	go run ./contrib/torchrun --standalone --nnodes 4
//
// Backends reach this command only through discovery: the modules of the
// workspace declare them in entry_points.txt, and go generate links them
// into the binary (entrypoints_gen.go).
//
// Exit status: 0 on success, 1 when the rendezvous fails, 2 on bad usage.
package main

//go:generate go run github.com/go-entrypoints/entrypoints/discovery/cmd/entrypoints generate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command and returns its exit status. Results go to stdout;
// progress and errors to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return 2
	}
	if o.standalone {
		err = runStandalone(ctx, o, stdout, stderr)
	} else {
		err = runNode(ctx, o, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "torchrun: %v\n", err)
		return 1
	}
	return 0
}
