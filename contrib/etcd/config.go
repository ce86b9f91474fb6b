package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-entrypoints/entrypoints/registry"
)

// Defaults of the config keys, as in PyTorch where PyTorch has the key.
const (
	DefaultJoinTimeout         = 600 * time.Second
	DefaultLastCallTimeout     = 30 * time.Second
	DefaultCloseTimeout        = 30 * time.Second
	DefaultKeepAliveInterval   = 5 * time.Second
	DefaultKeepAliveMaxAttempt = 3
	DefaultReadTimeout         = 60 * time.Second
	DefaultPrefix              = "/torch/elastic/rendezvous"
	// DefaultPort is used for an endpoint given without a port.
	DefaultPort = 2379
)

// Bounds on config values; anything outside is rejected at creation.
// Sub-second last calls and request bounds are allowed (down to
// minShortTimeout) for jobs on one machine and for tests; a join or close
// bound under a second could not even cover a lease grant on a real
// cluster.
const (
	minTimeout      = time.Second
	minShortTimeout = 100 * time.Millisecond
	maxTimeout      = 7 * 24 * time.Hour
	maxInterval     = time.Hour
	maxMaxAttempts  = 100
)

// knownKeys are the config keys the backend reads, sorted. Others are
// ignored with a warning, as PyTorch ignores them.
var knownKeys = []string{
	"ca_cert", "cacert", "cert", "close_timeout", "etcd_prefix", "heartbeat", "join_timeout", "keep_alive_interval",
	"keep_alive_max_attempt", "key", "last_call_timeout", "prefix", "protocol", "read_timeout",
	"ssl_cert", "ssl_cert_key", "timeout",
}

// aliases are PyTorch's names of this backend's settings: its etcd-v2
// backend's TLS keys and its etcd (v1) backend's join timeout. (heartbeat
// and etcd_prefix, whose values are compared once read, are handled by
// their options.)
var aliases = []struct{ key, alias string }{
	{"cacert", "ca_cert"},
	{"cert", "ssl_cert"},
	{"key", "ssl_cert_key"},
	{"join_timeout", "timeout"},
}

// resolveAliases returns p with each alias's value under its key. A key
// and its alias may both be given if their values agree.
func resolveAliases(p registry.Parameters) (registry.Parameters, error) {
	var conf map[string]string
	for _, a := range aliases {
		av, hasAlias := p.Config[a.alias]
		if !hasAlias {
			continue
		}
		if kv, hasKey := p.Config[a.key]; hasKey && strings.TrimSpace(kv) != strings.TrimSpace(av) {
			return p, fmt.Errorf("config options %q (%q) and %q (%q) differ, but are the same setting; give one", a.key, kv, a.alias, av)
		}
		if conf == nil {
			conf = maps.Clone(p.Config)
		}
		delete(conf, a.alias)
		conf[a.key] = av
	}
	if conf != nil {
		p.Config = conf
	}
	return p, nil
}

// quietKeys are config keys of other backends that torchrun sets for
// every backend: they are ignored without a warning. (--node-rank sets
// rank, for the static backend.)
var quietKeys = []string{"rank"}

// config is the parsed, validated form of registry.Parameters.
type config struct {
	endpoints       []string
	tls             *tls.Config
	prefix          string
	joinTimeout     time.Duration
	lastCallTimeout time.Duration
	closeTimeout    time.Duration
	keepAlive       time.Duration
	maxAttempts     int
	readTimeout     time.Duration
	localAddr       string
}

// leaseTTL is how long a node stays alive without keep-alives: PyTorch's
// keep_alive_interval times keep_alive_max_attempt, in whole seconds as etcd
// leases count them.
func (c config) leaseTTL() int64 {
	return int64(math.Ceil((c.keepAlive * time.Duration(c.maxAttempts)).Seconds()))
}

// parseConfig checks p and reads every config key. All problems are
// reported together, each naming its key.
func parseConfig(p registry.Parameters) (config, error) {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(p.Validate())
	p, err := resolveAliases(p)
	add(err)
	if p.Backend != "" && p.Backend != Backend {
		add(fmt.Errorf("backend is %q, want %q", p.Backend, Backend))
	}
	if strings.TrimSpace(p.RunID) == "" {
		add(errors.New("run id is empty; give one with --rdzv-id so that the nodes of one job find each other"))
	}
	var c config
	c.joinTimeout, err = durationOption(p, "join_timeout", DefaultJoinTimeout, minTimeout, maxTimeout)
	add(err)
	c.lastCallTimeout, err = durationOption(p, "last_call_timeout", DefaultLastCallTimeout, minShortTimeout, maxTimeout)
	add(err)
	c.closeTimeout, err = durationOption(p, "close_timeout", DefaultCloseTimeout, minTimeout, maxTimeout)
	add(err)
	c.readTimeout, err = durationOption(p, "read_timeout", DefaultReadTimeout, minShortTimeout, maxTimeout)
	add(err)
	c.keepAlive, err = keepAliveOption(p)
	add(err)
	c.maxAttempts, err = p.GetInt("keep_alive_max_attempt", DefaultKeepAliveMaxAttempt)
	add(err)
	if err == nil && (c.maxAttempts < 1 || c.maxAttempts > maxMaxAttempts) {
		add(fmt.Errorf("config option %q is %d; give a number of keep-alives from 1 to %d", "keep_alive_max_attempt", c.maxAttempts, maxMaxAttempts))
	}

	c.prefix, err = prefixOption(p)
	add(err)
	var secure bool
	secure, err = protocolOption(p)
	add(err)
	c.endpoints, err = parseEndpoints(p.Endpoint, secure)
	add(err)
	if secure {
		c.tls, err = tlsOption(p)
		add(err)
	} else {
		for _, k := range []string{"cacert", "cert", "key"} {
			if _, ok := p.Config[k]; ok {
				add(fmt.Errorf("config option %q is given but protocol is http; set protocol=https to use TLS", k))
			}
		}
	}
	c.localAddr = p.LocalAddr
	if c.localAddr == "" {
		if host, err := os.Hostname(); err == nil {
			c.localAddr = host
		} else {
			c.localAddr = "localhost"
		}
	}
	if len(errs) > 0 {
		return config{}, fmt.Errorf("etcd rendezvous: invalid parameters: %w", errors.Join(errs...))
	}
	return c, nil
}

// durationOption reads key as whole seconds, the way PyTorch reads its
// timeouts, or, as an extension, as a Go duration with a unit ("500ms").
// The value must be from lo to hi.
func durationOption(p registry.Parameters, key string, def, lo, hi time.Duration) (time.Duration, error) {
	raw, ok := p.Config[key]
	if !ok {
		return def, nil
	}
	var d time.Duration
	if n, err := p.GetInt(key, 0); err == nil {
		if n < 1 || int64(n) > int64(hi/time.Second) {
			return def, fmt.Errorf("config option %q is %q; give a number of seconds from 1 to %d", key, raw, int64(hi/time.Second))
		}
		d = time.Duration(n) * time.Second
	} else if parsed, perr := time.ParseDuration(strings.TrimSpace(raw)); perr == nil {
		d = parsed
	} else {
		return def, fmt.Errorf("config option %q is %q, not a duration; give whole seconds (30) or a Go duration (500ms)", key, raw)
	}
	if d < lo || d > hi {
		return def, fmt.Errorf("config option %q is %q; give a duration from %v to %v", key, raw, lo, hi)
	}
	return d, nil
}

// keepAliveOption reads keep_alive_interval or its alias heartbeat: whole
// seconds, as etcd leases count them. Both may be given if they agree.
func keepAliveOption(p registry.Parameters) (time.Duration, error) {
	d, err := keepAliveKey(p, "keep_alive_interval")
	if err != nil {
		return d, err
	}
	alias, err := keepAliveKey(p, "heartbeat")
	if err != nil {
		return d, err
	}
	_, hasKey := p.Config["keep_alive_interval"]
	_, hasAlias := p.Config["heartbeat"]
	switch {
	case hasKey && hasAlias && d != alias:
		return d, fmt.Errorf("config options %q (%q) and %q (%q) differ, but are the same setting; give one", "keep_alive_interval", p.Config["keep_alive_interval"], "heartbeat", p.Config["heartbeat"])
	case hasAlias:
		return alias, nil
	}
	return d, nil
}

func keepAliveKey(p registry.Parameters, key string) (time.Duration, error) {
	d, err := durationOption(p, key, DefaultKeepAliveInterval, time.Second, maxInterval)
	if err == nil && d%time.Second != 0 {
		err = fmt.Errorf("config option %q is %q; etcd leases count whole seconds, give a number of seconds from 1 to %d", key, p.Config[key], int64(maxInterval/time.Second))
	}
	return d, err
}

// unknownKeys returns the config keys the backend does not read, sorted,
// leaving out quietKeys.
func unknownKeys(conf map[string]string) []string {
	var out []string
	for k := range conf {
		if !slices.Contains(knownKeys, k) && !slices.Contains(quietKeys, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// prefixOption reads prefix or its alias etcd_prefix (PyTorch's etcd
// backend's name). Both may be given if they agree.
func prefixOption(p registry.Parameters) (string, error) {
	prefix, hasKey, err := prefixKey(p, "prefix")
	if err != nil {
		return "", err
	}
	legacy, hasAlias, err := prefixKey(p, "etcd_prefix")
	if err != nil {
		return "", err
	}
	switch {
	case hasKey && hasAlias && prefix != legacy:
		return "", fmt.Errorf("config options %q (%q) and %q (%q) differ, but are the same setting; give one", "prefix", p.Config["prefix"], "etcd_prefix", p.Config["etcd_prefix"])
	case hasAlias:
		return legacy, nil
	case hasKey:
		return prefix, nil
	}
	return DefaultPrefix, nil
}

func prefixKey(p registry.Parameters, key string) (string, bool, error) {
	raw, ok := p.Config[key]
	if !ok {
		return "", false, nil
	}
	prefix := strings.TrimRight(strings.TrimSpace(raw), "/")
	if prefix == "" || !strings.HasPrefix(prefix, "/") {
		return "", true, fmt.Errorf("config option %q is %q; give an etcd key prefix starting with /, such as %s", key, raw, DefaultPrefix)
	}
	return prefix, true, nil
}

func protocolOption(p registry.Parameters) (secure bool, err error) {
	switch proto := strings.ToLower(strings.TrimSpace(p.Get("protocol", "http"))); proto {
	case "http":
		return false, nil
	case "https":
		return true, nil
	default:
		return false, fmt.Errorf("config option %q is %q; give http or https", "protocol", proto)
	}
}

func tlsOption(p registry.Parameters) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if path, ok := p.Config["cacert"]; ok {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config option %q: reading CA certificates: %w", "cacert", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config option %q: %s holds no PEM certificate", "cacert", path)
		}
		cfg.RootCAs = pool
	}
	certFile, hasCert := p.Config["cert"]
	keyFile, hasKey := p.Config["key"]
	switch {
	case hasCert && hasKey:
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("config options %q and %q: loading the client certificate: %w", "cert", "key", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case hasCert || hasKey:
		return nil, fmt.Errorf("config options %q and %q go together; give both or neither", "cert", "key")
	}
	return cfg, nil
}

// parseEndpoints reads a comma-separated list of etcd endpoints, each
// optionally with an http:// or https:// scheme, as etcd client URLs. Each
// is read by registry.ParseEndpoint, as PyTorch's etcd backends read their
// endpoint: without a port it is DefaultPort, an IPv6 address is written
// in brackets, and an empty endpoint is localhost:2379. Port 0 is refused:
// no etcd server listens there.
func parseEndpoints(s string, secure bool) ([]string, error) {
	scheme := "http"
	if secure {
		scheme = "https"
	}
	if strings.TrimSpace(s) == "" {
		return []string{scheme + "://" + net.JoinHostPort("localhost", strconv.Itoa(DefaultPort))}, nil
	}
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		hostport := strings.TrimSpace(item)
		if rest, ok := strings.CutPrefix(hostport, "http://"); ok {
			if secure {
				return nil, fmt.Errorf("endpoint %q uses http but protocol is https", item)
			}
			hostport = rest
		} else if rest, ok := strings.CutPrefix(hostport, "https://"); ok {
			if !secure {
				return nil, fmt.Errorf("endpoint %q uses https; set protocol=https and, if needed, cacert, cert and key", item)
			}
			hostport = rest
		}
		hostport = strings.TrimSuffix(hostport, "/")
		if hostport == "" {
			return nil, fmt.Errorf("endpoint list %q has an empty item; give host:port items separated by commas, such as localhost:%d", s, DefaultPort)
		}
		host, port, err := registry.ParseEndpoint(hostport, DefaultPort)
		if err != nil {
			return nil, err
		}
		if port == 0 {
			return nil, fmt.Errorf("endpoint %q has port 0; give the port of an etcd server, from 1 to 65535 (default %d)", item, DefaultPort)
		}
		out = append(out, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port)))
	}
	return out, nil
}
