package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/applesim"
)

// appleSim enrolls count devices of the platform through Apple's MDM
// protocol, as a person opening the registration page on each would, then
// polls every interval and prints one line per command each handles. With
// every 0 each polls once and the command ends.
func (c *cli) appleSim(ctx context.Context, p portico.Platform, reg applesim.Registration, caFile string, count int, every time.Duration, supervised bool, notNow int) error {
	if !p.Apple() {
		return usageError("--protocol apple simulates ios, ipados or macos devices, not " + string(p))
	}
	roots, err := pemCertificates("--ca", caFile)
	if err != nil {
		return err
	}
	out := &lockedWriter{w: c.stdout}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	devices := make([]*applesim.Device, count)
	for i := range devices {
		m, err := applesim.NewModel(p, i, rng)
		if err != nil {
			return err
		}
		d := applesim.New(applesim.Config{
			Model: m, Roots: roots, Supervised: supervised, Out: out,
			// A device refuses http:// MDM URLs; a server the simulator
			// was pointed at over plain HTTP is a test server.
			AllowHTTP: strings.HasPrefix(reg.Server, "http://"),
		})
		if err := d.Enroll(ctx, nil, reg); err != nil {
			return fmt.Errorf("device %d of %d: %w", i+1, count, err)
		}
		d.AnswerNotNow(notNow)
		fmt.Fprintf(out, "Enrolled %s (%s, %s %s) for %s as UDID %s.\n", m.DeviceName, m.ProductName, p.OSName(), m.OSVersion, reg.Username, m.UDID)
		devices[i] = d
	}
	if every == 0 {
		var errs []error
		for _, d := range devices {
			if _, err := d.Poll(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", d.UDID(), err))
			}
		}
		return errors.Join(errs...)
	}
	fmt.Fprintf(out, "Polling every %s; stop with Ctrl-C.\n", every)
	var wg sync.WaitGroup
	for _, d := range devices {
		// The push that follows enrollment.
		d.Wake()
		wg.Go(func() { d.Run(ctx, every) })
	}
	wg.Wait()
	return nil
}

// pemCertificates reads the certificates of a PEM file given with flag,
// such as serve's self-signed tls/cert.pem, which the devices trust
// besides the system's; none without a file.
func pemCertificates(flag, file string) ([]*x509.Certificate, error) {
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, file, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, usageError(fmt.Sprintf("%s %s has no PEM certificate", flag, file))
	}
	return certs, nil
}
