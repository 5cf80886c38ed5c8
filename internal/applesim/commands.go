package applesim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"time"

	"howett.net/plist"

	"github.com/portico-mdm/portico"
)

// result is the device's answer to a command: UDID, CommandUUID, Status,
// and an ErrorChain or the command's response keys.
type result map[string]any

// mdmError is a command the device could not carry out, as an ErrorChain
// entry. Its codes are those Apple documents and devices report.
type mdmError struct {
	Domain      string
	Code        int
	Description string
}

func (e *mdmError) Error() string { return e.Description }

// errFormat is a malformed command: a required key missing or a key of the
// wrong type. The device answers CommandFormatError.
var errFormat = errors.New("malformed command")

// handler carries out one type of command. It fills in the response keys,
// or returns an *mdmError or errFormat. after, when set, runs once the
// result is sent: the device then stops talking to the server.
type handler func(d *Device, c args, res result) (after func(context.Context), err error)

var handlers = map[string]handler{
	"DeviceLock":        (*Device).deviceLock,
	"ClearPasscode":     (*Device).clearPasscode,
	"EnableLostMode":    (*Device).enableLostMode,
	"DisableLostMode":   (*Device).disableLostMode,
	"DeviceLocation":    (*Device).deviceLocation,
	"EraseDevice":       (*Device).eraseDevice,
	"RemoveProfile":     (*Device).removeProfile,
	"InstallProfile":    (*Device).installProfile,
	"ProfileList":       (*Device).profileList,
	"DeviceInformation": (*Device).deviceInformation,
	"SecurityInfo":      (*Device).securityInfo,
}

// iOSOnly are the commands a Mac does not know.
var iOSOnly = []string{"ClearPasscode", "EnableLostMode", "DisableLostMode", "DeviceLocation"}

// answer reads a command the server sent and returns the result to send,
// what the device received, and what it does once the result is sent.
func (d *Device) answer(reply []byte) ([]byte, Received, func(context.Context)) {
	var env struct {
		CommandUUID string
		Command     map[string]any
	}
	_, decodeErr := plist.Unmarshal(reply, &env)
	rec := Received{CommandUUID: env.CommandUUID, Command: env.Command, At: time.Now()}
	rec.RequestType, _ = env.Command["RequestType"].(string)
	res := result{"UDID": d.model.UDID, "CommandUUID": env.CommandUUID, "Status": "Acknowledged"}
	var after func(context.Context)
	switch {
	case decodeErr != nil || env.CommandUUID == "" || rec.RequestType == "":
		res["Status"] = "CommandFormatError"
	case d.takeNotNow():
		res["Status"] = "NotNow"
	default:
		h := handlers[rec.RequestType]
		if h == nil || d.model.Platform == portico.PlatformMacOS && slices.Contains(iOSOnly, rec.RequestType) {
			h = (*Device).unknownCommand
		}
		var err error
		after, err = h(d, args(env.Command), res)
		var me *mdmError
		switch {
		case errors.Is(err, errFormat):
			res = result{"UDID": d.model.UDID, "CommandUUID": env.CommandUUID, "Status": "CommandFormatError"}
		case err != nil:
			if !errors.As(err, &me) {
				me = &mdmError{"MCMDMErrorDomain", 12010, err.Error()} // internal inconsistency
			}
			res = result{"UDID": d.model.UDID, "CommandUUID": env.CommandUUID, "Status": "Error", "ErrorChain": d.errorChain(me)}
		}
	}
	rec.Status = res["Status"].(string)
	d.mu.Lock()
	d.received = append(d.received, rec)
	d.mu.Unlock()
	d.say("%s %s: %s", rec.RequestType, rec.CommandUUID, rec.Status)
	body, err := marshal(res)
	if err != nil {
		// Every value above is a property list type.
		panic(err)
	}
	return body, rec, after
}

func (d *Device) takeNotNow() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.notNow == 0 {
		return false
	}
	d.notNow--
	return true
}

// errorChain is the ErrorChain of a failed command; iPhones and iPads add
// the US English text, as in the captures.
func (d *Device) errorChain(e *mdmError) []any {
	entry := map[string]any{"ErrorCode": e.Code, "ErrorDomain": e.Domain, "LocalizedDescription": e.Description}
	if d.model.Platform != portico.PlatformMacOS {
		entry["USEnglishDescription"] = e.Description
	}
	return []any{entry}
}

func (d *Device) unknownCommand(c args, _ result) (func(context.Context), error) {
	t, _ := c["RequestType"].(string)
	if d.model.Platform == portico.PlatformMacOS {
		return nil, &mdmError{"MCMDMErrorDomain", 12021, fmt.Sprintf("Unknown command: %s <MDMClientError:91>", t)}
	}
	return nil, &mdmError{"MCMDMErrorDomain", 12021, fmt.Sprintf("“%s” is not a valid request type.", t)}
}

// missingKey is how a Mac reports a command without a key it needs; an
// iPhone or iPad calls that a format error.
func (d *Device) missingKey(c args, key string) error {
	if d.model.Platform != portico.PlatformMacOS {
		return errFormat
	}
	t, _ := c["RequestType"].(string)
	return &mdmError{"MDMClientError", 97, fmt.Sprintf("No '%s' in '%s' command <MDMClientError:97>", key, t)}
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// macPIN checks the Find My PIN that macOS 11 and later require to lock or
// erase a Mac.
func (d *Device) macPIN(c args) error {
	pin, err := c.string("PIN")
	switch {
	case err != nil:
		return err
	case pin == "":
		return d.missingKey(c, "PIN")
	case !sixDigits.MatchString(pin):
		return errFormat
	}
	return nil
}

func (d *Device) deviceLock(c args, res result) (func(context.Context), error) {
	msg, err := c.string("Message")
	if err != nil {
		return nil, err
	}
	phone, err := c.string("PhoneNumber")
	if err != nil {
		return nil, err
	}
	if d.model.Platform == portico.PlatformMacOS {
		if err := d.macPIN(c); err != nil {
			return nil, err
		}
	}
	if msg == "" && phone == "" {
		return nil, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.lostMode:
		res["MessageResult"] = "DeviceInLostMode"
	case !d.passcode && d.model.Platform != portico.PlatformMacOS:
		res["MessageResult"] = "NoPasscodeSet"
	default:
		res["MessageResult"] = "Success"
	}
	return nil, nil
}

func (d *Device) clearPasscode(c args, _ result) (func(context.Context), error) {
	token, err := c.data("UnlockToken")
	if err != nil || token == nil {
		return nil, errFormat
	}
	if !slices.Equal(token, d.unlockToken) {
		return nil, &mdmError{"MCPasscodeErrorDomain", 5013, "The passcode cannot be cleared: the unlock token is not this device's."}
	}
	d.mu.Lock()
	d.passcode = false
	d.mu.Unlock()
	return nil, nil
}

// supervised refuses lost mode on a device that is not supervised.
func (d *Device) supervised() error {
	if d.cfg.Supervised {
		return nil
	}
	return &mdmError{"MCChaperoneErrorDomain", 29000, "The device is not supervised."}
}

func (d *Device) enableLostMode(c args, _ result) (func(context.Context), error) {
	if err := d.supervised(); err != nil {
		return nil, err
	}
	var texts []string
	for _, k := range []string{"Message", "PhoneNumber", "Footnote"} {
		s, err := c.string(k)
		if err != nil {
			return nil, err
		}
		texts = append(texts, s)
	}
	if texts[0] == "" && texts[1] == "" {
		return nil, errFormat // lost mode needs a message or a phone number
	}
	d.mu.Lock()
	d.lostMode = true
	d.mu.Unlock()
	return nil, nil
}

func notLost() error {
	return &mdmError{"MCMDMErrorDomain", 12067, "The device is not in MDM lost mode."}
}

func (d *Device) disableLostMode(args, result) (func(context.Context), error) {
	if err := d.supervised(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.lostMode {
		return nil, notLost()
	}
	d.lostMode = false
	return nil, nil
}

func (d *Device) deviceLocation(_ args, res result) (func(context.Context), error) {
	if err := d.supervised(); err != nil {
		return nil, err
	}
	if !d.LostMode() {
		return nil, notLost()
	}
	lat, lon := d.model.location()
	res["Latitude"] = lat + (rand.Float64()-0.5)/5000
	res["Longitude"] = lon + (rand.Float64()-0.5)/5000
	res["HorizontalAccuracy"] = float64(5 + rand.IntN(60))
	res["VerticalAccuracy"] = float64(3 + rand.IntN(20))
	res["Altitude"] = float64(20 + rand.IntN(80))
	res["Speed"] = 0.0
	res["Course"] = -1.0 // unknown, as for a device at rest
	res["Timestamp"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	return nil, nil
}

func (d *Device) eraseDevice(c args, _ result) (func(context.Context), error) {
	if d.model.Platform == portico.PlatformMacOS {
		if err := d.macPIN(c); err != nil {
			return nil, err
		}
	} else {
		for _, k := range []string{"PreserveDataPlan", "DisallowProximitySetup"} {
			if _, err := c.bool(k); err != nil {
				return nil, err
			}
		}
	}
	return func(context.Context) { d.setGone("erased") }, nil
}

func (d *Device) removeProfile(c args, _ result) (func(context.Context), error) {
	id, err := c.string("Identifier")
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, d.missingKey(c, "Identifier")
	}
	if id == d.profile.Identifier {
		// Removing the enrollment profile ends management, whatever the
		// access rights.
		return func(ctx context.Context) {
			if err := d.removeEnrollment(ctx); err != nil {
				d.say("CheckOut failed: %v", err)
			}
		}, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := slices.IndexFunc(d.installed, func(p *Profile) bool { return p.Identifier == id })
	if i < 0 {
		return nil, &mdmError{"MCMDMErrorDomain", 12013, fmt.Sprintf("The profile “%s” is not managed by MDM.", id)}
	}
	d.installed = slices.Delete(d.installed, i, i+1)
	return nil, nil
}

func (d *Device) installProfile(c args, _ result) (func(context.Context), error) {
	data, err := c.data("Payload")
	if err != nil || len(data) == 0 {
		return nil, errFormat
	}
	p, err := ParseProfileFor(data, d.cert, d.key)
	var pe *ProfileError
	if errors.As(err, &pe) {
		return nil, &mdmError{pe.Domain, pe.Code, pe.Message}
	} else if err != nil {
		return nil, err
	}
	if p.Identifier == d.profile.Identifier {
		return nil, &mdmError{"MCMDMErrorDomain", 12009, "This device does not replace its enrollment profile through InstallProfile."}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A profile with the identifier of an installed one replaces it.
	if i := slices.IndexFunc(d.installed, func(q *Profile) bool { return q.Identifier == p.Identifier }); i >= 0 {
		d.installed[i] = p
	} else {
		d.installed = append(d.installed, p)
	}
	return nil, nil
}

func (d *Device) profileList(c args, res result) (func(context.Context), error) {
	managedOnly, err := c.bool("ManagedOnly")
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	installed := append([]*Profile(nil), d.installed...)
	d.mu.Unlock()
	list := []any{}
	if !managedOnly {
		list = append(list, d.profileItem(d.profile, false))
	}
	for _, p := range installed {
		list = append(list, d.profileItem(p, true))
	}
	res["ProfileList"] = list
	return nil, nil
}

// profileItem describes an installed profile as ProfileList does; only an
// unsupervised iPhone or iPad says which ones MDM installed.
func (d *Device) profileItem(p *Profile, managed bool) map[string]any {
	item := map[string]any{
		"PayloadIdentifier": p.Identifier, "PayloadUUID": p.UUID, "PayloadVersion": p.Version,
		"PayloadRemovalDisallowed": p.RemovalDisallowed, "HasRemovalPasscode": p.HasRemovalPasscode,
		"IsEncrypted": p.Encrypted,
	}
	optional(item, "PayloadDisplayName", p.DisplayName)
	optional(item, "PayloadDescription", p.Description)
	optional(item, "PayloadOrganization", p.Organization)
	if d.model.Platform != portico.PlatformMacOS && !d.cfg.Supervised {
		item["IsManaged"] = managed
	}
	signers := []any{}
	for _, c := range p.Signers {
		signers = append(signers, c.Raw)
	}
	item["SignerCertificates"] = signers
	if !p.Encrypted {
		var content []any
		for _, pl := range p.Payloads {
			entry := map[string]any{"PayloadType": pl.Type, "PayloadIdentifier": pl.Identifier, "PayloadUUID": pl.UUID, "PayloadVersion": pl.Version}
			optional(entry, "PayloadDisplayName", pl.DisplayName)
			optional(entry, "PayloadDescription", pl.Description)
			optional(entry, "PayloadOrganization", pl.Organization)
			content = append(content, entry)
		}
		item["PayloadContent"] = content
	}
	return item
}

func optional(m map[string]any, key, value string) {
	if value != "" {
		m[key] = value
	}
}

func (d *Device) deviceInformation(c args, res result) (func(context.Context), error) {
	queries, err := c.strings("Queries")
	if err != nil || queries == nil {
		return nil, errFormat
	}
	facts := d.facts()
	answers := map[string]any{}
	for _, q := range queries {
		if v, ok := facts[q]; ok {
			answers[q] = v
		}
	}
	res["QueryResponses"] = answers
	return nil, nil
}

func (d *Device) securityInfo(_ args, res result) (func(context.Context), error) {
	res["SecurityInfo"] = d.security()
	return nil, nil
}

// args are a command's keys, read with type checks: a key of the wrong
// type is a format error, a missing one a zero value.
type args map[string]any

func (c args) string(key string) (string, error) {
	v, ok := c[key]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", errFormat
	}
	return s, nil
}

func (c args) data(key string) ([]byte, error) {
	v, ok := c[key]
	if !ok {
		return nil, nil
	}
	b, ok := v.([]byte)
	if !ok {
		return nil, errFormat
	}
	return b, nil
}

func (c args) bool(key string) (bool, error) {
	v, ok := c[key]
	if !ok {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, errFormat
	}
	return b, nil
}

func (c args) strings(key string) ([]string, error) {
	v, ok := c[key]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errFormat
	}
	out := []string{}
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, errFormat
		}
		out = append(out, s)
	}
	return out, nil
}

func marshal(v any) ([]byte, error) { return plist.MarshalIndent(v, plist.XMLFormat, "\t") }

func isIdle(body []byte) bool {
	var m struct{ Status string }
	_, err := plist.Unmarshal(body, &m)
	return err == nil && m.Status == "Idle"
}
