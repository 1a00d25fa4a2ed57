package main

import (
	"fmt"

	"xgate/transports/sms"
)

// buildSMS makes the SMS transport and mounts its webhooks (incoming texts,
// status callbacks, media links) under /sms/<domain>/ on http.listen.
func buildSMS(d deps) (*builtTransport, error) {
	s := d.cfg.Transports.SMS
	if s == nil {
		return nil, nil
	}
	public := s.PublicURL
	if public == "" {
		public = d.cfg.HTTP.PublicURL
	}
	t, err := sms.New(sms.Config{
		Domain:              s.Domain,
		AccountSID:          s.AccountSID,
		AuthToken:           s.AuthToken,
		APIKeySID:           s.APIKeySID,
		APIKeySecret:        s.APIKeySecret,
		MessagingServiceSID: s.MessagingServiceSID,
		Numbers:             s.Numbers,
		Assign:              s.Assign,
		DefaultRegion:       s.DefaultRegion,
		Rate:                s.Rate,
		MaxSegments:         s.MaxSegments,
		DailyCap:            s.DailyCap,
		AllowedCountries:    s.AllowedCountries,
		PublicURL:           public,
		APIURL:              s.APIURL,
		Timeout:             s.Timeout,
		MediaTTL:            s.MediaTTL,
		Store:               d.st,
		Registerer:          d.reg,
		Logger:              d.log,
	})
	if err != nil {
		return nil, fmt.Errorf("transports.sms: %w", err)
	}
	d.mux.Handle(t.PathPrefix(), t.Handler())
	if s.APIURL != "" {
		d.log.Warn("transports.sms.api_url is set: Twilio API calls go to a stand-in, not to Twilio", "api_url", s.APIURL)
	}
	d.log.Info("sms webhooks", "incoming", t.IncomingURL(), "status", t.StatusURL())
	return &builtTransport{common: s.Component, transport: t}, nil
}
