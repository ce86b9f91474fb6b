package registry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Parameters are what a Creator needs to build a Handler. They mirror
// PyTorch's RendezvousParameters and torchrun's --rdzv-* flags.
type Parameters struct {
	// Backend names the registered backend to create.
	Backend string
	// Endpoint is the backend's address, in the form the backend expects
	// (often host:port).
	Endpoint string
	// RunID identifies the job; nodes with the same RunID rendezvous
	// together.
	RunID string
	// MinNodes and MaxNodes bound the number of nodes in a round.
	MinNodes int
	MaxNodes int
	// LocalAddr is this node's address, if the caller knows it.
	LocalAddr string
	// Config holds backend-specific options, as given by --rdzv-conf.
	// Read it with Get, GetBool and GetInt.
	Config map[string]string
}

// Validate reports whether p can be used to create a handler: Backend must
// be set, MinNodes at least 1 and MaxNodes at least MinNodes.
func (p Parameters) Validate() error {
	var errs []error
	if p.Backend == "" {
		errs = append(errs, errors.New("rendezvous backend name is empty"))
	}
	if p.MinNodes < 1 {
		errs = append(errs, fmt.Errorf("minimum number of nodes (%d) must be at least 1", p.MinNodes))
	}
	if p.MaxNodes < p.MinNodes {
		errs = append(errs, fmt.Errorf("maximum number of nodes (%d) must not be less than the minimum (%d)", p.MaxNodes, p.MinNodes))
	}
	return errors.Join(errs...)
}

// Get returns the config value of key, or def if key is not set.
func (p Parameters) Get(key, def string) string {
	if v, ok := p.Config[key]; ok {
		return v
	}
	return def
}

// GetBool returns the config value of key read as a boolean, or def if key
// is not set. As in PyTorch, 1, true, t, yes and y mean true and 0, false,
// f, no and n mean false, in any letter case; anything else is an error
// naming the key.
func (p Parameters) GetBool(key string, def bool) (bool, error) {
	v, ok := p.Config[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "1", "true", "t", "yes", "y":
		return true, nil
	case "0", "false", "f", "no", "n":
		return false, nil
	}
	return def, fmt.Errorf("rendezvous config option %q does not represent a valid boolean value: %q (want one of 1, true, t, yes, y, 0, false, f, no, n)", key, v)
}

// GetInt returns the config value of key read as a decimal integer, or def
// if key is not set. It reads what Python's int() reads: surrounding white
// space, a sign, decimal digits of any script and single underscores
// between digits; anything else is an error naming the key.
func (p Parameters) GetInt(key string, def int) (int, error) {
	v, ok := p.Config[key]
	if !ok {
		return def, nil
	}
	n, err := parseInt(v)
	if err != nil {
		return def, fmt.Errorf("rendezvous config option %q does not represent a valid integer: %q", key, v)
	}
	return n, nil
}

// parseInt parses s the way Python's int() parses a decimal string.
func parseInt(s string) (int, error) {
	s = pyStrip(s)
	var b strings.Builder
	if s != "" && (s[0] == '+' || s[0] == '-') {
		b.WriteByte(s[0])
		s = s[1:]
	}
	prev := '_' // no underscore first
	for _, r := range s {
		switch d := digitValue(r); {
		case d >= 0:
			b.WriteByte(byte('0' + d))
		case r == '_' && prev != '_':
		default:
			return 0, strconv.ErrSyntax
		}
		prev = r
	}
	if prev == '_' {
		return 0, strconv.ErrSyntax // empty, or an underscore last
	}
	return strconv.Atoi(b.String())
}

// digitValue returns the value of r if it is a decimal digit of any
// script (Unicode category Nd), else -1. Unicode encodes the digits of
// each script in runs from 0 to 9, so the value is r's distance from the
// start of its run, modulo 10 (some runs follow one another).
func digitValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	if r < 0x80 || !unicode.Is(unicode.Nd, r) {
		return -1
	}
	start := r
	for unicode.Is(unicode.Nd, start-1) {
		start--
	}
	return int(r-start) % 10
}

// ParseConfig parses torchrun's --rdzv-conf syntax, "k1=v1,k2=v2", into a
// config map, as PyTorch does. Each comma-separated item is split at its
// first "="; keys and values are trimmed of white space and stay strings; a
// key given twice keeps its last value. An empty input gives an empty map.
// An item with an empty key (an empty item included) is an error, and so
// is a key without a value.
func ParseConfig(s string) (map[string]string, error) {
	conf := make(map[string]string)
	if pyStrip(s) == "" {
		return conf, nil
	}
	for i, item := range strings.Split(s, ",") {
		key, value, _ := strings.Cut(item, "=")
		key, value = pyStrip(key), pyStrip(value)
		switch {
		case key == "":
			return nil, fmt.Errorf("rendezvous config %q: item %d (%q) has no key; give key=value items separated by commas, as in k1=v1,k2=v2", s, i+1, item)
		case value == "":
			return nil, fmt.Errorf("rendezvous config option %q has no value; give %s=value", key, key)
		}
		conf[key] = value
	}
	return conf, nil
}
