package etcd_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-entrypoints/entrypoints/contrib/etcd"
	"github.com/go-entrypoints/entrypoints/registry"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test"},
		NotBefore:             time.Now(),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a certificate"), 0o600))
	p := func(conf map[string]string) registry.Parameters {
		return registry.Parameters{Backend: etcd.Backend, Endpoint: "https://localhost:2379", RunID: "tls", MinNodes: 1, MaxNodes: 1, Config: conf}
	}

	h, err := etcd.New(p(map[string]string{"protocol": "https", "cacert": cert, "cert": cert, "key": key}))
	require.NoError(t, err)
	_, err = h.Shutdown(context.Background())
	require.NoError(t, err)

	_, err = etcd.New(p(map[string]string{"protocol": "https", "cacert": garbage}))
	assert.ErrorContains(t, err, `config option "cacert": `+garbage+" holds no PEM certificate")
	_, err = etcd.New(p(map[string]string{"protocol": "https", "cert": cert, "key": garbage}))
	assert.ErrorContains(t, err, `config options "cert" and "key": loading the client certificate`)
}
