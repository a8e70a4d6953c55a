// Renders ReasonSharp's Ollama Modelfile templates with Go's text/template the way Ollama's template.Execute feeds a
// template that uses .Messages: consecutive messages of one role merged with "\n\n", .System holding every system
// message, .Think and .IsThinkSet from the request, the "json" function, missingkey=zero. Input: the cases JSON that
// tests/ReasonSharp.Tests/Export/OllamaModelfileTests writes when its fixture is stale; output (stdout): the same JSON
// with "rendered" filled in, the test's fixture.
//
//	go run ./bench/ollama-template CASES.json > tests/ReasonSharp.Tests/Export/Fixtures/ollama-templates.json
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
)

type message struct {
	Role     string `json:"role"`
	Content  string `json:"content"`
	Thinking string `json:"-"`
}

type testCase struct {
	Format     string    `json:"format"`
	Messages   []message `json:"messages"`
	Think      bool      `json:"think"`
	IsThinkSet bool      `json:"is_think_set"`
	Rendered   string    `json:"rendered"`
}

type cases struct {
	Templates map[string]string `json:"templates"`
	Cases     []testCase        `json:"cases"`
}

func collate(msgs []message) (string, []*message) {
	var system []string
	var collated []*message
	for i := range msgs {
		m := msgs[i]
		if m.Role == "system" {
			system = append(system, m.Content)
		}
		if len(collated) > 0 && collated[len(collated)-1].Role == m.Role && m.Role != "tool" {
			collated[len(collated)-1].Content += "\n\n" + m.Content
		} else {
			collated = append(collated, &m)
		}
	}
	return strings.Join(system, "\n\n"), collated
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var input cases
	if err := json.Unmarshal(raw, &input); err != nil {
		panic(err)
	}
	funcs := template.FuncMap{"json": func(v any) string { b, _ := json.Marshal(v); return string(b) }}
	for i, c := range input.Cases {
		tmpl := template.Must(template.New("").Option("missingkey=zero").Funcs(funcs).Parse(input.Templates[c.Format]))
		system, messages := collate(c.Messages)
		var out bytes.Buffer
		if err := tmpl.Execute(&out, map[string]any{
			"System": system, "Messages": messages, "Tools": nil, "Response": "",
			"Think": c.Think, "IsThinkSet": c.IsThinkSet,
		}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		input.Cases[i].Rendered = out.String()
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(input); err != nil {
		panic(err)
	}
}
