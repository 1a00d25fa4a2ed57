package main

func buildEmail(d deps) (*builtTransport, error) {
	if d.cfg.Transports.Email == nil {
		return nil, nil
	}
	return nil, notImplemented("email")
}
