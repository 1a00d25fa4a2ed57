package harness

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Twilio is a stand-in for the Twilio REST API on 127.0.0.1, implementing
// exactly what xgate uses: message creation (POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json, form parameters, basic
// auth, Twilio's JSON message resource or error body) and media fetches (GET
// .../Messages/{Sid}/Media/{MediaSid}, basic auth). It records every request,
// can inject faults (HTTP 429/5xx, Twilio error codes, slow answers), and
// posts incoming-message webhooks and status callbacks signed exactly like
// Twilio (X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by the
// sorted parameters as key+value, keyed with the auth token).
//
// xgate reaches it with transports.sms.api_url = Twilio.URL: the real
// twilio-go client, its requests for api.twilio.com sent here.
type Twilio struct {
	// URL is the stand-in's base URL (http://127.0.0.1:port).
	URL string
	// AccountSID and AuthToken are the credentials it accepts.
	AccountSID, AuthToken string

	srv *httptest.Server

	mu       sync.Mutex
	requests []TwilioRequest
	messages []TwilioMessage
	faults   []*TwilioFault
	media    map[string]twilioMedia // media SID → content
	changed  chan struct{}          // closed and replaced on every record
}

// TwilioRequest is one request the stand-in got.
type TwilioRequest struct {
	At     time.Time
	Method string
	Path   string
	Form   url.Values
	// User is the basic-auth user name; Authorized whether the credentials
	// were right.
	User       string
	Authorized bool
	// Status is what the stand-in answered.
	Status int
}

// TwilioMessage is one message the stand-in accepted (201).
type TwilioMessage struct {
	Sid                 string
	From, To, Body      string
	MediaURLs           []string
	StatusCallback      string
	MessagingServiceSid string
	At                  time.Time
}

// TwilioFault makes message creations fail. A fault applies to the
// creations that match To (empty: all), Count times (0: until Until passes,
// or forever when Until is zero too).
type TwilioFault struct {
	To    string
	Count int
	Until time.Time
	// Status is the HTTP status; Code and Message the Twilio error (a 429
	// with code 20429 by default when only Status is set). Status 0 with a
	// Delay makes a slow but successful answer.
	Status  int
	Code    int
	Message string
	// Delay holds the answer (a timeout, for a client with a shorter one).
	Delay time.Duration

	used int
}

type twilioMedia struct {
	contentType string
	data        []byte
}

// StartTwilio starts the stand-in for the account accountSID with authToken
// (both letters and digits, as twilio-go requires). The cleanup stops it.
func StartTwilio(t T, accountSID, authToken string) *Twilio {
	t.Helper()
	tw := &Twilio{AccountSID: accountSID, AuthToken: authToken, media: map[string]twilioMedia{}, changed: make(chan struct{})}
	tw.srv = httptest.NewServer(http.HandlerFunc(tw.serve))
	tw.URL = tw.srv.URL
	t.Cleanup(tw.srv.Close)
	return tw
}

// NewTwilioSID returns a random SID with the given two-letter prefix ("AC",
// "SM", "MM", "ME").
func NewTwilioSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Requests returns every request so far, in order.
func (tw *Twilio) Requests() []TwilioRequest {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return append([]TwilioRequest(nil), tw.requests...)
}

// Messages returns the accepted messages so far, in order.
func (tw *Twilio) Messages() []TwilioMessage {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return append([]TwilioMessage(nil), tw.messages...)
}

// Changed returns a channel closed at the next request the stand-in
// records: take it before reading Messages, then wait on it for news.
func (tw *Twilio) Changed() <-chan struct{} {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.changed
}

// WaitMessages waits until cond holds for the accepted messages, failing
// the test after timeout with cond's explanation.
func (tw *Twilio) WaitMessages(t T, timeout time.Duration, cond func([]TwilioMessage) (bool, string)) []TwilioMessage {
	t.Helper()
	return waitChanged(t, timeout, "twilio", func() ([]TwilioMessage, <-chan struct{}) {
		tw.mu.Lock()
		defer tw.mu.Unlock()
		return append([]TwilioMessage(nil), tw.messages...), tw.changed
	}, cond)
}

// Fail adds a fault (see TwilioFault); faults are tried in the order added.
func (tw *Twilio) Fail(f TwilioFault) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.faults = append(tw.faults, &f)
}

// ClearFaults removes every fault.
func (tw *Twilio) ClearFaults() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.faults = nil
}

// AddMedia stores a media file and returns the URL Twilio would put in an
// incoming MMS (on api.twilio.com: xgate rewrites it to the stand-in).
func (tw *Twilio) AddMedia(messageSid, contentType string, data []byte) string {
	me := NewTwilioSID("ME")
	tw.mu.Lock()
	tw.media[me] = twilioMedia{contentType: contentType, data: append([]byte(nil), data...)}
	tw.mu.Unlock()
	return "https://api.twilio.com/2010-04-01/Accounts/" + tw.AccountSID + "/Messages/" + messageSid + "/Media/" + me
}

func (tw *Twilio) record(r TwilioRequest, m *TwilioMessage) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.requests = append(tw.requests, r)
	if m != nil {
		tw.messages = append(tw.messages, *m)
	}
	close(tw.changed)
	tw.changed = make(chan struct{})
}

func (tw *Twilio) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	user, pass, _ := r.BasicAuth()
	rec := TwilioRequest{At: time.Now(), Method: r.Method, Path: r.URL.Path, Form: r.PostForm, User: user,
		Authorized: user == tw.AccountSID && hmac.Equal([]byte(pass), []byte(tw.AuthToken))}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var msg *TwilioMessage
	switch {
	case !rec.Authorized:
		rec.Status = twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
	case len(parts) == 4 && parts[0] == "2010-04-01" && parts[1] == "Accounts" && parts[3] == "Messages.json" && r.Method == http.MethodPost:
		if parts[2] != tw.AccountSID {
			rec.Status = twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
			break
		}
		rec.Status, msg = tw.create(w, r)
	case len(parts) == 7 && parts[0] == "2010-04-01" && parts[1] == "Accounts" && parts[3] == "Messages" && parts[5] == "Media" && r.Method == http.MethodGet:
		tw.mu.Lock()
		m, ok := tw.media[strings.TrimSuffix(parts[6], ".json")]
		tw.mu.Unlock()
		if !ok || parts[2] != tw.AccountSID {
			rec.Status = twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
			break
		}
		w.Header().Set("Content-Type", m.contentType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(m.data)
		rec.Status = http.StatusOK
	default:
		rec.Status = twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	}
	tw.record(rec, msg)
}

// fault returns the fault that applies to a creation for to, counting it.
func (tw *Twilio) fault(to string) *TwilioFault {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	now := time.Now()
	for _, f := range tw.faults {
		switch {
		case f.To != "" && f.To != to:
		case f.Count > 0 && f.used >= f.Count:
		case f.Count == 0 && !f.Until.IsZero() && now.After(f.Until):
		default:
			f.used++
			c := *f
			return &c
		}
	}
	return nil
}

func (tw *Twilio) create(w http.ResponseWriter, r *http.Request) (int, *TwilioMessage) {
	f := r.PostForm
	to, from, body, svc := f.Get("To"), f.Get("From"), f.Get("Body"), f.Get("MessagingServiceSid")
	if ft := tw.fault(to); ft != nil {
		if ft.Delay > 0 {
			select {
			case <-time.After(ft.Delay):
			case <-r.Context().Done():
				return 499, nil // the client gave up
			}
		}
		if ft.Status != 0 {
			code, msg := ft.Code, ft.Message
			if code == 0 && ft.Status == http.StatusTooManyRequests {
				code, msg = 20429, "Too Many Requests"
			}
			if msg == "" {
				msg = http.StatusText(ft.Status)
			}
			return twilioError(w, ft.Status, code, msg), nil
		}
	}
	switch {
	case to == "":
		return twilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required."), nil
	case from == "" && svc == "":
		return twilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required."), nil
	case body == "" && len(f["MediaUrl"]) == 0:
		return twilioError(w, http.StatusBadRequest, 21602, "Message body is required."), nil
	}
	now := time.Now().UTC()
	m := TwilioMessage{Sid: NewTwilioSID("SM"), From: from, To: to, Body: body, MediaURLs: f["MediaUrl"],
		StatusCallback: f.Get("StatusCallback"), MessagingServiceSid: svc, At: now}
	date := now.Format(time.RFC1123Z)
	resource := map[string]any{
		"account_sid": tw.AccountSID, "api_version": "2010-04-01", "body": body,
		"date_created": date, "date_sent": nil, "date_updated": date, "direction": "outbound-api",
		"error_code": nil, "error_message": nil, "from": from, "messaging_service_sid": nilIfEmpty(svc),
		"num_media": fmt.Sprint(len(m.MediaURLs)), "num_segments": "1", "price": nil, "price_unit": "USD",
		"sid": m.Sid, "status": "queued", "to": to,
		"subresource_uris": map[string]string{"media": "/2010-04-01/Accounts/" + tw.AccountSID + "/Messages/" + m.Sid + "/Media.json"},
		"uri":              "/2010-04-01/Accounts/" + tw.AccountSID + "/Messages/" + m.Sid + ".json",
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(resource)
	return http.StatusCreated, &m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// twilioError writes Twilio's JSON error body and returns the status.
func twilioError(w http.ResponseWriter, status, code int, msg string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status,
	})
	return status
}

// TwilioSignature computes X-Twilio-Signature for a POST of params to
// fullURL: base64(HMAC-SHA1(authToken, fullURL + k1 + v1 + k2 + v2 ...)) with
// the parameter names sorted (a repeated name contributes each value, in
// order).
func TwilioSignature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// PostSigned POSTs params as a form to fullURL with signature as
// X-Twilio-Signature ("" sends none), as Twilio does, and returns the status
// and body.
func PostSigned(fullURL string, params url.Values, signature string) (int, string, error) {
	h := http.Header{
		"Content-Type":               {"application/x-www-form-urlencoded"},
		"User-Agent":                 {"TwilioProxy/1.1"},
		"I-Twilio-Idempotency-Token": {NewTwilioSID("ID")},
	}
	if signature != "" {
		h.Set("X-Twilio-Signature", signature)
	}
	return post(fullURL, h, []byte(params.Encode()))
}

// IncomingSMS is a text a phone sends to one of the account's numbers.
type IncomingSMS struct {
	Sid       string // MessageSid; default a new SM...
	From, To  string // E.164
	Body      string
	MediaURLs []string // from AddMedia; their content type is image/png
	// OptOutType is set by Advanced Opt-Out: STOP, START or HELP.
	OptOutType string
}

// Params are the form parameters of the incoming-message webhook Twilio
// would post for m.
func (tw *Twilio) Params(m IncomingSMS) url.Values {
	if m.Sid == "" {
		m.Sid = NewTwilioSID("SM")
	}
	p := url.Values{
		"ToCountry": {"US"}, "ToState": {"CA"}, "SmsMessageSid": {m.Sid}, "NumMedia": {fmt.Sprint(len(m.MediaURLs))},
		"ToCity": {""}, "FromZip": {""}, "SmsSid": {m.Sid}, "FromState": {"CA"}, "SmsStatus": {"received"},
		"FromCity": {""}, "Body": {m.Body}, "FromCountry": {"US"}, "To": {m.To}, "ToZip": {""},
		"NumSegments": {"1"}, "MessageSid": {m.Sid}, "AccountSid": {tw.AccountSID}, "From": {m.From},
		"ApiVersion": {"2010-04-01"},
	}
	for i, u := range m.MediaURLs {
		p.Set(fmt.Sprintf("MediaUrl%d", i), u)
		p.Set(fmt.Sprintf("MediaContentType%d", i), "image/png")
	}
	if m.OptOutType != "" {
		p.Set("OptOutType", m.OptOutType)
	}
	return p
}

// PostIncoming posts the signed incoming-message webhook for m to fullURL
// (the number's "A message comes in" URL) and returns the status and body.
func (tw *Twilio) PostIncoming(fullURL string, m IncomingSMS) (int, string, error) {
	p := tw.Params(m)
	return PostSigned(fullURL, p, TwilioSignature(tw.AuthToken, fullURL, p))
}

// PostStatus posts the signed status callback Twilio sends for msg to its
// StatusCallback URL: status is queued, sent, delivered, undelivered or
// failed; errorCode is set for the last two (0: none).
func (tw *Twilio) PostStatus(msg TwilioMessage, status string, errorCode int) (int, string, error) {
	p := url.Values{
		"SmsSid": {msg.Sid}, "SmsStatus": {status}, "MessageStatus": {status}, "To": {msg.To},
		"MessageSid": {msg.Sid}, "AccountSid": {tw.AccountSID}, "From": {msg.From}, "ApiVersion": {"2010-04-01"},
	}
	if errorCode != 0 {
		p.Set("ErrorCode", fmt.Sprint(errorCode))
	}
	return PostSigned(msg.StatusCallback, p, TwilioSignature(tw.AuthToken, msg.StatusCallback, p))
}
