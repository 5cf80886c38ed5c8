// Package wake tells a device's open long-poll that a command waits for it
// (SPEC ACT-7), on this instance or, through PostgreSQL, on any other.
package wake

import "context"

// Hub carries wake-ups from where a command is queued to where its device
// waits.
type Hub interface {
	// Publish wakes whoever waits for the device, here or on another
	// instance. It is called after the command is committed.
	Publish(ctx context.Context, deviceID int64) error
	// Subscribe returns a channel that receives when the device is woken,
	// and a function that stops the subscription.
	Subscribe(deviceID int64) (<-chan struct{}, func())
}
