package registry

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// ParseEndpoint reads a rendezvous endpoint, "host[:port]", the way
// PyTorch's parse_rendezvous_endpoint reads it, so that every backend
// accepts and refuses the same endpoints:
//
//   - Surrounding white space is ignored. An empty endpoint is "localhost"
//     with defaultPort.
//   - Without a port, the port is defaultPort. A backend that needs the
//     port given passes -1 and checks for it, as PyTorch's static backend
//     does.
//   - An IPv6 address is written in brackets: "[2001:db8::1]" (with
//     defaultPort) or "[2001:db8::1]:29400"; host is returned without them.
//   - The port is 1 to 5 decimal digits, less than 65536. Port 0 is read
//     as 0: a backend that cannot use it refuses it.
//   - The host is made of letters, digits, "_", ".", "-" and ":" only
//     (PyTorch's ^[\w.:-]+$), so "~", "~:123" and "dummy.com :123" are
//     refused.
//
// Two things PyTorch accepts are refused, because PyTorch misreads them
// and the handler would fail later, far from the cause: an IPv6 address
// without brackets ("::1", which PyTorch reads as host ":" and port 1),
// and a host with a colon that is not an IPv6 address ("[etcd:x]").
//
// The error names the endpoint, what is wrong with it and the form
// expected.
func ParseEndpoint(endpoint string, defaultPort int) (host string, port int, err error) {
	s := pyStrip(endpoint)
	if s == "" {
		return "localhost", defaultPort, nil
	}
	portStr, hasPort := "", false
	host = s
	if !(s[0] == '[' && s[len(s)-1] == ']') {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, portStr, hasPort = s[:i], s[i+1:], true
		}
	}
	bracketed := len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']'
	if bracketed {
		host = host[1 : len(host)-1]
	}
	port = defaultPort
	if hasPort {
		if port, err = parsePort(portStr); err != nil {
			if strings.Contains(host, ":") && !bracketed && isIPv6(s) {
				return "", 0, fmt.Errorf("rendezvous endpoint %q is an IPv6 address without brackets; write [%s], or [%s]:port", endpoint, s, s)
			}
			return "", 0, fmt.Errorf("rendezvous endpoint %q has port %q; give a number from 0 to 65535, as in host:29400", endpoint, portStr)
		}
	}
	if !isHostName(host) {
		return "", 0, fmt.Errorf("rendezvous endpoint %q has host %q, which is not a host name or IP address (letters, digits, \"_\", \".\", \"-\" and \":\" only); give host:port, as in node0.example.com:29400, 10.0.0.1:29400 or [2001:db8::1]:29400", endpoint, host)
	}
	if strings.Contains(host, ":") {
		switch {
		case !bracketed && isIPv6(s):
			return "", 0, fmt.Errorf("rendezvous endpoint %q is ambiguous: an IPv6 address must be in brackets; write [%s] for the default port, or [address]:port", endpoint, s)
		case !bracketed:
			return "", 0, fmt.Errorf("rendezvous endpoint %q has more than one colon; give host:port, or [IPv6 address]:port", endpoint)
		case !isIPv6(host):
			return "", 0, fmt.Errorf("rendezvous endpoint %q has host %q in brackets, which is not an IPv6 address; give [IPv6 address]:port, or host:port without brackets", endpoint, host)
		}
	}
	return host, port, nil
}

// parsePort reads a port as PyTorch does: 1 to 5 ASCII digits, less than
// 65536.
func parsePort(s string) (int, error) {
	if len(s) < 1 || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > 65535 {
		return 0, strconv.ErrRange
	}
	return n, nil
}

// isHostName reports whether s matches Python's ^[\w.:-]+$, where \w is
// any letter or number of Unicode and "_".
func isHostName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsNumber(r) || strings.ContainsRune("_.:-", r)) {
			return false
		}
	}
	return true
}

// isIPv6 reports whether s is an IPv6 address without a zone.
func isIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && a.Zone() == ""
}

// pyStrip trims s of white space as Python's str.strip does, which also
// counts the separators U+001C to U+001F as space.
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f })
}
