package main

func buildIRC(d deps) (*builtTransport, error) {
	if d.cfg.Transports.IRC == nil {
		return nil, nil
	}
	return nil, notImplemented("irc")
}
