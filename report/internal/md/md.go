// Package md writes the pieces of GitHub-flavoured Markdown that the
// Markdown report and the Markdown comparison share.
package md

import "strings"

// Cell escapes text for a Markdown table cell.
func Cell(s string) string {
	s = Escape(strings.NewReplacer("\n", " ", "\r", " ").Replace(s))
	if s == "" {
		return " "
	}
	return s
}

// Code puts s in a code span, with a fence longer than any backtick run
// inside it.
func Code(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", `\|`) + pad + fence
}

// Escape keeps text from being read as Markdown markup.
func Escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`, "#", `\#`, "|", `\|`).Replace(s)
}

// UpperFirst capitalises the first letter of s, for a sentence.
func UpperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
