package transports

import (
	"context"
	"errors"
	"sync"
)

// UplinkSlot holds the Uplink a transport's HTTP handlers (webhooks) use while
// Run runs. Handlers get nil before Run starts and after it ends, and answer
// 503 then, so the remote service retries. The zero value is ready to use.
type UplinkSlot struct {
	mu sync.RWMutex
	up Uplink
}

// Hold keeps up in the slot until ctx ends, then empties it and returns nil.
// A transport's Run calls it.
func (s *UplinkSlot) Hold(ctx context.Context, up Uplink) error {
	if up == nil {
		return errors.New("run: no uplink")
	}
	s.Set(up)
	<-ctx.Done()
	s.Set(nil)
	return nil
}

// Set puts up in the slot (nil empties it). Hold is what Run uses; Set is for
// tests that drive handlers without running the transport.
func (s *UplinkSlot) Set(up Uplink) {
	s.mu.Lock()
	s.up = up
	s.mu.Unlock()
}

// Get returns the held Uplink, or nil outside Run.
func (s *UplinkSlot) Get() Uplink {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.up
}
