package main

import (
	"fmt"

	"xgate/transports/webhook"
)

func buildWebhook(d deps) (*builtTransport, error) {
	w := d.cfg.Transports.Webhook
	if w == nil {
		return nil, nil
	}
	wt, err := webhook.New(webhook.Config{
		Domain:        w.Domain,
		URL:           w.URL,
		Timeout:       w.Timeout,
		InboundSecret: []byte(w.InboundSecret),
		Logger:        d.log.With("transport", "webhook"),
	})
	if err != nil {
		return nil, fmt.Errorf("transports.webhook: %w", err)
	}
	d.mux.Handle(wt.PublicPath(), wt.Handler())
	return &builtTransport{common: w.Component, transport: wt}, nil
}
