package parallel_test

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-entrypoints/entrypoints/discovery/internal/parallel"
)

func TestFor(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 33, 1000} {
		calls := make([]atomic.Int32, n)
		parallel.For(n, func(i int) { calls[i].Add(1) })
		for i := range calls {
			assert.Equal(t, int32(1), calls[i].Load(), "n=%d i=%d", n, i)
		}
	}
}
