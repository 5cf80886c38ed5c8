package applemdm

import (
	"crypto/rand"
	"fmt"

	"howett.net/plist"
)

// Request types Portico sends.
const (
	RequestDeviceLock        = "DeviceLock"
	RequestClearPasscode     = "ClearPasscode"
	RequestEraseDevice       = "EraseDevice"
	RequestEnableLostMode    = "EnableLostMode"
	RequestDisableLostMode   = "DisableLostMode"
	RequestDeviceLocation    = "DeviceLocation"
	RequestRemoveProfile     = "RemoveProfile"
	RequestInstallProfile    = "InstallProfile"
	RequestProfileList       = "ProfileList"
	RequestDeviceInformation = "DeviceInformation"
	RequestSecurityInfo      = "SecurityInfo"
)

// DeviceQueries are the DeviceInformation queries Portico asks: what the
// portal shows of a device (SPEC DEV-1), and what decides which commands
// the device takes.
var DeviceQueries = []string{
	"DeviceName", "Model", "ModelName", "ModelNumber", "ProductName", "OSVersion", "BuildVersion",
	"SerialNumber", "UDID", "IMEI", "MEID", "PhoneNumber", "ICCID", "CurrentCarrierNetwork",
	"SubscriberCarrierNetwork", "ServiceSubscriptions", "IsSupervised", "IsMDMLostModeEnabled",
	"PINRequiredForDeviceLock", "PINRequiredForEraseDevice",
}

// Command is a command for a device: its request type and the keys of that
// type (Apple's commands/*.yaml payloadkeys).
type Command struct {
	RequestType string
	Keys        map[string]any
}

// Encode returns the command as the plist a device reads: the UUID the
// device answers with, and the command.
func (c Command) Encode(uuid string) ([]byte, error) {
	cmd := map[string]any{"RequestType": c.RequestType}
	for k, v := range c.Keys {
		cmd[k] = v
	}
	return plist.MarshalIndent(map[string]any{"CommandUUID": uuid, "Command": cmd}, plist.XMLFormat, "\t")
}

// NewUUID returns a random UUID (version 4) in the upper-case form Apple
// devices use.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
