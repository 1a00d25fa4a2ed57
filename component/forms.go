package component

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"

	"xgate/transports"
)

// XEP-0004 data forms, as xgate writes and reads them.

const nsData = "jabber:x:data"

type dataForm struct {
	XMLName      xml.Name    `xml:"jabber:x:data x"`
	Type         string      `xml:"type,attr"`
	Title        string      `xml:"title,omitempty"`
	Instructions string      `xml:"instructions,omitempty"`
	Fields       []formField `xml:"field"`
}

type formField struct {
	Var      string       `xml:"var,attr,omitempty"`
	Type     string       `xml:"type,attr,omitempty"`
	Label    string       `xml:"label,attr,omitempty"`
	Desc     string       `xml:"desc,omitempty"`
	Required *struct{}    `xml:"required"`
	Values   []string     `xml:"value"`
	Options  []formOption `xml:"option"`
}

type formOption struct {
	Label string `xml:"label,attr,omitempty"`
	Value string `xml:"value"`
}

// fieldType is f's XEP-0004 type, text-single when unset.
func fieldType(f transports.Field) string {
	if f.Type == "" {
		return "text-single"
	}
	return f.Type
}

// buildForm is a type='form' data form: a hidden FORM_TYPE (when formType is
// set), then fields in order, each with its current value from values.
// Values of text-private fields are never shown: they are secrets.
func buildForm(formType, title, instructions string, fields []transports.Field, values map[string]string) dataForm {
	f := dataForm{Type: "form", Title: title, Instructions: instructions}
	if formType != "" {
		f.Fields = append(f.Fields, formField{Var: "FORM_TYPE", Type: "hidden", Values: []string{formType}})
	}
	for _, fl := range fields {
		ff := formField{Var: fl.Var, Type: fieldType(fl), Label: fl.Label, Desc: fl.Desc}
		if fl.Required {
			ff.Required = &struct{}{}
		}
		for _, o := range fl.Options {
			ff.Options = append(ff.Options, formOption{Value: o})
		}
		if v, ok := values[fl.Var]; ok && ff.Type != "text-private" {
			ff.Values = []string{v}
			if ff.Type == "text-multi" {
				ff.Values = strings.Split(v, "\n")
			}
		}
		f.Fields = append(f.Fields, ff)
	}
	return f
}

// submittedValues are the values of a submitted form, multi-valued fields
// joined with newlines (XEP-0004 text-multi). FORM_TYPE is left out.
func submittedValues(f dataForm) map[string]string {
	v := make(map[string]string, len(f.Fields))
	for _, fl := range f.Fields {
		if fl.Var == "" || fl.Var == "FORM_TYPE" {
			continue
		}
		v[fl.Var] = strings.Join(fl.Values, "\n")
	}
	return v
}

// formType is the value of the hidden FORM_TYPE field, "" without one.
func formType(f dataForm) string {
	for _, fl := range f.Fields {
		if fl.Var == "FORM_TYPE" && len(fl.Values) > 0 {
			return fl.Values[0]
		}
	}
	return ""
}

// checkValues validates values against fields and returns them keyed by var,
// with only the known fields kept: a required field must have a non-blank
// value, a list-single value must be one of the options, a boolean one of
// 0/1/true/false (normalised to "1"/"0"). The error is a
// *transports.FieldError naming the field.
func checkValues(fields []transports.Field, values map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(fields))
	for _, f := range fields {
		name := f.Label
		if name == "" {
			name = f.Var
		}
		v, ok := values[f.Var]
		if !ok || strings.TrimSpace(v) == "" {
			if f.Required {
				return nil, &transports.FieldError{Field: f.Var, Reason: fmt.Sprintf("%s is required", name)}
			}
			if ok {
				out[f.Var] = ""
			}
			continue
		}
		switch fieldType(f) {
		case "list-single":
			if len(f.Options) > 0 && !slices.Contains(f.Options, v) {
				return nil, &transports.FieldError{Field: f.Var, Reason: fmt.Sprintf("%s must be one of %s", name, strings.Join(f.Options, ", "))}
			}
		case "boolean":
			switch v {
			case "1", "true":
				v = "1"
			case "0", "false":
				v = "0"
			default:
				return nil, &transports.FieldError{Field: f.Var, Reason: fmt.Sprintf("%s must be true or false", name)}
			}
		}
		out[f.Var] = v
	}
	return out, nil
}
