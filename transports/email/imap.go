package email

import (
	"context"

	"xgate/transports"
)

// runIMAP watches the catch-all mailbox. Not implemented yet: Run reports it.
func (t *Transport) runIMAP(ctx context.Context, up transports.Uplink) error {
	t.log.Error("email: imap_addr is set, but IMAP IDLE is not implemented in this xgate; use the listener")
	<-ctx.Done()
	return nil
}
