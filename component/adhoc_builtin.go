package component

import (
	"context"
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"

	"xgate/transports"
)

// statusCommand reports, in one step, the stream state, the user's
// registration and the depth of the domain's queues; admins also see how
// many users are registered.
func (g *Gateway) statusCommand(ctx context.Context, from jid.JID, _ int, _ map[string]string) cmdResult {
	var b strings.Builder
	state := "down"
	if g.stream.Up() {
		state = "up"
	}
	fmt.Fprintf(&b, "%s (%s): stream %s.\n", g.serviceName(), g.cfg.Domain, state)
	reg, err := g.lookupRegistration(ctx, from)
	switch {
	case err != nil:
		g.log.Warn("status: registration lookup failed", "err", err)
		b.WriteString("Registration: unknown (the store did not answer).\n")
	case reg == nil:
		b.WriteString("Registration: you are not registered.\n")
	case reg.RemoteID != "":
		fmt.Fprintf(&b, "Registration: registered as %s.\n", reg.RemoteID)
	default:
		b.WriteString("Registration: registered.\n")
	}
	b.WriteString(g.depthLine(ctx))
	if g.isAdmin(from) {
		if regs, err := g.st.ListRegistrations(ctx, g.t.Name()); err == nil {
			fmt.Fprintf(&b, "\nRegistered users: %d.", len(regs))
		}
	}
	return cmdResult{note: b.String(), noteType: "info"}
}

// depthLine is the queue depths of the domain's transport.
func (g *Gateway) depthLine(ctx context.Context) string {
	out, oerr := g.st.Outbox().Depth(ctx, g.t.Name())
	in, ierr := g.st.Inbox().Depth(ctx, g.t.Name())
	if oerr != nil || ierr != nil {
		return "Queues: unknown (the store did not answer)."
	}
	return fmt.Sprintf("Queues: %d message(s) waiting to go out, %d waiting to be delivered to users.", out, in)
}

// unregisterCommand asks for confirmation (step 0), then removes the
// registration exactly as an XEP-0077 <remove/> does, presence included.
func (g *Gateway) unregisterCommand(ctx context.Context, from jid.JID, step int, values map[string]string) cmdResult {
	if step == 0 {
		reg, err := g.lookupRegistration(ctx, from)
		if err != nil {
			return cmdResult{err: transports.Temporary("the registration store is unavailable; try again later", err)}
		}
		if reg == nil {
			return cmdResult{note: "You are not registered with " + g.serviceName() + ".", noteType: "warn"}
		}
		return cmdResult{final: true, form: &transports.Form{
			Title:        "Unregister from " + g.serviceName(),
			Instructions: "This removes your registration and its settings. Messages still waiting to be sent are not cancelled.",
			Fields: []transports.Field{{
				Var: "confirm", Label: "Yes, unregister me", Type: "boolean", Required: true,
			}},
			Values: map[string]string{"confirm": "0"},
		}}
	}
	if values["confirm"] != "1" {
		return cmdResult{note: "Nothing was changed.", noteType: "info"}
	}
	if e, ok := g.removeRegistration(ctx, from); !ok {
		return cmdResult{note: e.Error(), noteType: "error"}
	}
	return cmdResult{
		note: "You are no longer registered with " + g.serviceName() + ".", noteType: "info",
		after: g.unregisteredPresence(from),
	}
}
