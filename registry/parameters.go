package registry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
// if key is not set. Surrounding white space and, as in Python, single
// underscores between digits are allowed; anything else is an error naming
// the key.
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
	s = strings.TrimSpace(s)
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 {
		return 0, strconv.ErrSyntax
	}
	if strings.Contains(digits, "_") {
		if strings.HasPrefix(digits, "_") || strings.HasSuffix(digits, "_") || strings.Contains(digits, "__") {
			return 0, strconv.ErrSyntax
		}
		s = strings.ReplaceAll(s, "_", "")
	}
	return strconv.Atoi(s)
}

// ParseConfig parses torchrun's --rdzv-conf syntax, "k1=v1,k2=v2", into a
// config map. Each comma-separated item is split at its first "="; keys and
// values are trimmed of white space and stay strings. An empty input gives an
// empty map; an item without "=", or with an empty key or value, is an error.
func ParseConfig(s string) (map[string]string, error) {
	conf := make(map[string]string)
	if strings.TrimSpace(s) == "" {
		return conf, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		key, value, ok := strings.Cut(item, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case !ok:
			return nil, fmt.Errorf("rendezvous config item %q is not of the form key=value", item)
		case key == "":
			return nil, fmt.Errorf("rendezvous config item %q has an empty key", item)
		case value == "":
			return nil, fmt.Errorf("rendezvous config item %q has an empty value", item)
		}
		conf[key] = value
	}
	return conf, nil
}
