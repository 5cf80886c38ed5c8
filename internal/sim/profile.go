package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/portico-mdm/portico"
)

// model is a device model and the OS versions it plausibly runs.
type model struct {
	name         string
	manufacturer string
	versions     []string
}

var (
	ios17  = []string{"17.4.1", "17.5.1", "17.6.1"}
	ios18  = []string{"18.0.1", "18.1.1", "18.2.1", "18.3.2"}
	iosAll = append(append([]string{}, ios17...), ios18...)

	iPhones = []model{
		{"iPhone 16 Pro", "Apple", ios18},
		{"iPhone 16", "Apple", ios18},
		{"iPhone 15 Pro Max", "Apple", iosAll},
		{"iPhone 15 Pro", "Apple", iosAll},
		{"iPhone 15", "Apple", iosAll},
		{"iPhone 14", "Apple", iosAll},
		{"iPhone 13", "Apple", iosAll},
		{"iPhone SE (3rd generation)", "Apple", iosAll},
	}
	iPads = []model{
		{"iPad Pro 11-inch (M4)", "Apple", ios18},
		{"iPad Air 11-inch (M2)", "Apple", iosAll},
		{"iPad (10th generation)", "Apple", iosAll},
		{"iPad mini (6th generation)", "Apple", iosAll},
	}
	androids = []model{
		{"Pixel 9 Pro", "Google", []string{"15.0.0"}},
		{"Pixel 8", "Google", []string{"14.0.0", "15.0.0"}},
		{"Pixel 7a", "Google", []string{"14.0.0", "15.0.0"}},
		{"Galaxy S24 Ultra", "Samsung", []string{"14.0.0", "15.0.0"}},
		{"Galaxy S24", "Samsung", []string{"14.0.0", "15.0.0"}},
		{"Galaxy S23", "Samsung", []string{"13.0.0", "14.0.0"}},
		{"Galaxy A54 5G", "Samsung", []string{"13.0.0", "14.0.0"}},
	}
	macs = []model{
		{"MacBook Pro (14-inch, M3)", "Apple", []string{"14.4.1", "14.6.1", "15.1.1"}},
		{"MacBook Pro (16-inch, M3 Max)", "Apple", []string{"14.4.1", "14.6.1", "15.1.1"}},
		{"MacBook Air (13-inch, M2)", "Apple", []string{"13.6.7", "14.4.1", "14.6.1", "15.1.1"}},
		{"MacBook Air (15-inch, M3)", "Apple", []string{"14.4.1", "14.6.1", "15.1.1"}},
	}
	// Windows reports 10.0 and the build for Windows 10 and 11 alike.
	windowsBuilds = []string{"10.0.19045", "10.0.22621", "10.0.22631", "10.0.26100"}
	pcs           = []model{
		{"Latitude 7440", "Dell", windowsBuilds},
		{"XPS 13 9340", "Dell", windowsBuilds},
		{"Precision 5680", "Dell", windowsBuilds},
		{"ThinkPad T14 Gen 4", "Lenovo", windowsBuilds},
		{"ThinkPad X1 Carbon Gen 11", "Lenovo", windowsBuilds},
		{"ThinkPad E16 Gen 1", "Lenovo", windowsBuilds},
	}

	owners = []string{
		"Alice", "Bob", "Carmen", "Deepak", "Emma", "Farid", "Grace", "Hiroshi",
		"Ines", "Jonas", "Kemi", "Liam", "Maria", "Noah", "Olga", "Priya",
		"Quentin", "Rosa", "Sven", "Tariq", "Uma", "Victor", "Wen", "Yusuf",
	}
)

// carrier is a mobile network and the fictional number range it hands out,
// so that a simulated number never rings a real phone.
type carrier struct {
	name string
	uk   bool
}

var (
	carriers = []carrier{
		{"Verizon", false}, {"AT&T", false}, {"T-Mobile", false},
		{"EE", true}, {"Vodafone UK", true}, {"O2", true},
	}
	usAreaCodes = []string{"212", "312", "415", "512", "617", "646", "206"}
)

func (c carrier) number(rng *rand.Rand) string {
	if c.uk {
		return fmt.Sprintf("+44 7700 900%03d", rng.IntN(1000))
	}
	return fmt.Sprintf("+1 %s 555 %04d", pick(rng, usAreaCodes), 100+rng.IntN(100))
}

// Profile returns the details of a plausible device of the platform: a real
// model with an OS version it runs, the owner's name in the device name as
// Apple devices have it, and a SIM (carrier, phone number, IMEI) where the
// model has one. i, the device's place in a batch, varies the owner's name.
func Profile(p portico.Platform, i int, rng *rand.Rand) portico.DeviceDetails {
	owner := owners[i%len(owners)]
	var d portico.DeviceDetails
	switch p {
	case portico.PlatformIOS:
		d = details(rng, iPhones, owner+"'s iPhone", appleSerial(rng))
		withSIM(&d, rng)
	case portico.PlatformIPadOS:
		d = details(rng, iPads, owner+"'s iPad", appleSerial(rng))
		if rng.IntN(3) == 0 {
			d.Model += " Wi-Fi + Cellular"
			withSIM(&d, rng)
		} else {
			d.Model += " Wi-Fi"
		}
	case portico.PlatformAndroid:
		d = details(rng, androids, "", serial(rng, "R5C", 8))
		d.Name = d.Model // Android names a phone after its model.
		withSIM(&d, rng)
	case portico.PlatformMacOS:
		d = details(rng, macs, "", appleSerial(rng))
		d.Name = owner + "'s " + strings.Split(d.Model, " (")[0]
	case portico.PlatformWindows:
		d = details(rng, pcs, "DESKTOP-"+serial(rng, "", 7), serial(rng, "", 7))
	}
	return d
}

func details(rng *rand.Rand, models []model, name, serial string) portico.DeviceDetails {
	m := pick(rng, models)
	return portico.DeviceDetails{
		Name: name, Model: m.name, Manufacturer: m.manufacturer,
		OSVersion: pick(rng, m.versions), Serial: serial,
	}
}

func withSIM(d *portico.DeviceDetails, rng *rand.Rand) {
	c := pick(rng, carriers)
	d.Carrier = c.name
	d.PhoneNumber = c.number(rng)
	d.IMEI = imei(rng)
}

// imei returns a 15-digit IMEI: a type allocation code in the 35 range that
// phone makers use, a serial, and the Luhn check digit.
func imei(rng *rand.Rand) string {
	b := []byte(fmt.Sprintf("35%012d", rng.Int64N(1e12)))
	return string(append(b, Luhn(b)))
}

// Luhn returns the check digit that makes digits followed by it pass the
// Luhn check.
func Luhn(digits []byte) byte {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		n := int(digits[i] - '0')
		if (len(digits)-i)%2 == 1 {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return byte('0' + (10-sum%10)%10)
}

// appleSerial is a serial in the random ten-character form Apple has used
// since 2021, which avoids the letters I and O.
func appleSerial(rng *rand.Rand) string { return serial(rng, "", 10) }

func serial(rng *rand.Rand, prefix string, n int) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	b := []byte(prefix)
	for range n {
		b = append(b, alphabet[rng.IntN(len(alphabet))])
	}
	return string(b)
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }
