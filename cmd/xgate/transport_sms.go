package main

func buildSMS(d deps) (*builtTransport, error) {
	if d.cfg.Transports.SMS == nil {
		return nil, nil
	}
	return nil, notImplemented("sms")
}
