package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
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
const (
	maxTimeout     = 7 * 24 * time.Hour
	maxInterval    = time.Hour
	maxMaxAttempts = 100
)

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
	if p.Backend != "" && p.Backend != Backend {
		add(fmt.Errorf("backend is %q, want %q", p.Backend, Backend))
	}
	if strings.TrimSpace(p.RunID) == "" {
		add(errors.New("run id is empty; give one with --rdzv-id so that the nodes of one job find each other"))
	}
	var c config
	var err error
	c.joinTimeout, err = durationOption(p, "join_timeout", DefaultJoinTimeout, maxTimeout)
	add(err)
	c.lastCallTimeout, err = durationOption(p, "last_call_timeout", DefaultLastCallTimeout, maxTimeout)
	add(err)
	c.closeTimeout, err = durationOption(p, "close_timeout", DefaultCloseTimeout, maxTimeout)
	add(err)
	c.readTimeout, err = durationOption(p, "read_timeout", DefaultReadTimeout, maxTimeout)
	add(err)
	intervalKey := "keep_alive_interval"
	if _, ok := p.Config["heartbeat"]; ok {
		if _, both := p.Config[intervalKey]; both {
			add(errors.New(`config options "heartbeat" and "keep_alive_interval" are the same setting; give only one`))
		}
		intervalKey = "heartbeat"
	}
	c.keepAlive, err = durationOption(p, intervalKey, DefaultKeepAliveInterval, maxInterval)
	add(err)
	if c.keepAlive > 0 && c.keepAlive < time.Second {
		add(fmt.Errorf("config option %q is %v; etcd leases count whole seconds, give at least 1", intervalKey, c.keepAlive))
	}
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
// The value must be positive and at most max.
func durationOption(p registry.Parameters, key string, def, max time.Duration) (time.Duration, error) {
	raw, ok := p.Config[key]
	if !ok {
		return def, nil
	}
	var d time.Duration
	if n, err := p.GetInt(key, 0); err == nil {
		if n <= 0 || int64(n) > int64(max/time.Second) {
			return def, fmt.Errorf("config option %q is %q; give a number of seconds from 1 to %d", key, raw, int64(max/time.Second))
		}
		d = time.Duration(n) * time.Second
	} else if parsed, perr := time.ParseDuration(strings.TrimSpace(raw)); perr == nil {
		d = parsed
	} else {
		return def, fmt.Errorf("config option %q is %q, not a duration; give whole seconds (30) or a Go duration (500ms)", key, raw)
	}
	if d <= 0 || d > max {
		return def, fmt.Errorf("config option %q is %q; give a positive duration of at most %v", key, raw, max)
	}
	return d, nil
}

func prefixOption(p registry.Parameters) (string, error) {
	prefix, ok := p.Config["prefix"]
	if legacy, lok := p.Config["etcd_prefix"]; lok {
		if ok && legacy != prefix {
			return "", errors.New(`config options "prefix" and "etcd_prefix" differ; give only one`)
		}
		prefix, ok = legacy, true
	}
	if !ok {
		return DefaultPrefix, nil
	}
	raw := prefix
	prefix = strings.TrimRight(strings.TrimSpace(prefix), "/")
	if prefix == "" || !strings.HasPrefix(prefix, "/") {
		return "", fmt.Errorf("config option %q is %q; give an etcd key prefix starting with /, such as %s", "prefix", raw, DefaultPrefix)
	}
	return prefix, nil
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

// parseEndpoints reads a comma-separated list of host:port addresses, each
// optionally with an http:// or https:// scheme, as etcd client URLs.
func parseEndpoints(s string, secure bool) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("endpoint is empty; give the host:port of an etcd server (--rdzv-endpoint)")
	}
	scheme := "http"
	if secure {
		scheme = "https"
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
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			// No port: PyTorch's etcd backends default to 2379.
			host, port = hostport, strconv.Itoa(DefaultPort)
			if strings.Count(hostport, ":") == 1 || strings.HasPrefix(hostport, "[") {
				return nil, fmt.Errorf("endpoint %q is malformed; give host:port, such as localhost:%d", item, DefaultPort)
			}
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("endpoint %q has port %q; give a port from 1 to 65535", item, port)
		}
		if host == "" || strings.ContainsAny(host, " \t/?#@") {
			return nil, fmt.Errorf("endpoint %q has no valid host; give host:port, such as localhost:%d", item, DefaultPort)
		}
		out = append(out, scheme+"://"+net.JoinHostPort(host, port))
	}
	return out, nil
}
