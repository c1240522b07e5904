package experiments

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// parseYAML parses the one YAML document of an experiment file into a node
// tree. A syntax error, or a second document, is a problem at the place in
// the file where it is.
func parseYAML(raw []byte, file string) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Problem{File: file, Msg: "the file is empty"}
		}
		return nil, &Problem{File: file, Pos: locateSyntaxError(raw, err), Msg: "YAML syntax: " + syntaxMessage(err)}
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, &Problem{File: file, Pos: locateSyntaxError(raw, err), Msg: "YAML syntax: " + syntaxMessage(err)}
	default:
		return nil, &Problem{File: file, Pos: secondDocument(raw, &second), Msg: "a second YAML document starts here: an experiment file holds one document (remove the ---, or split the file)"}
	}
	return &root, nil
}

var (
	yamlErrPrefix = regexp.MustCompile(`^yaml: (line \d+: )?`)
	yamlErrLine   = regexp.MustCompile(`^yaml: line (\d+):`)
)

// syntaxMessage is yaml.v3's message without its "yaml: line N:" prefix,
// whose line is that of the enclosing construct (and for some errors
// counted from 0): the place comes from locateSyntaxError instead.
func syntaxMessage(err error) string {
	return yamlErrPrefix.ReplaceAllString(err.Error(), "")
}

// maxLocateBytes bounds the input parsed while locating a syntax error
// (the sum over every prefix tried), so a huge file is located coarsely
// rather than slowly.
const maxLocateBytes = 64 << 20

// locateSyntaxError finds where in raw a YAML syntax error is. yaml.v3
// reports the line of the construct that encloses the error (some errors
// one line early) and no column, so the place is found by parsing
// prefixes of the file: the shortest prefix that fails with the same
// message ends at the character that the parser could not accept.
// Encoding errors carry no line at all and are found by scanning the
// bytes.
func locateSyntaxError(raw []byte, err error) Pos {
	msg := syntaxMessage(err)
	switch {
	case strings.Contains(msg, "UTF-8"):
		return invalidUTF8(raw)
	case strings.Contains(msg, "control characters"):
		return controlCharacter(raw)
	}
	fails := func(prefix []byte) bool {
		var n yaml.Node
		d := yaml.NewDecoder(bytes.NewReader(prefix))
		perr := d.Decode(&n)
		if perr == nil {
			perr = d.Decode(&n)
		}
		return perr != nil && !errors.Is(perr, io.EOF) && syntaxMessage(perr) == msg
	}
	lineStarts := []int{0}
	for i, b := range raw {
		if b == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	end := func(line int) int { // offset just past line (1-based)
		if line < len(lineStarts) {
			return lineStarts[line]
		}
		return len(raw)
	}
	budget := maxLocateBytes
	// The shortest failing prefix of whole lines, by bisection: a prefix
	// that contains the error fails, one that ends before it parses.
	lo, hi := 1, len(lineStarts)
	if !fails(raw[:end(hi)]) {
		return Pos{Line: yamlLine(err), Column: 1}
	}
	for lo < hi && budget > 0 {
		mid := (lo + hi) / 2
		budget -= end(mid)
		if fails(raw[:end(mid)]) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	line := hi
	start, stop := lineStarts[line-1], end(line)
	col := firstNonBlank(raw[start:stop])
	for c := start + 1; c <= stop && budget > 0; c++ {
		budget -= c
		if fails(raw[:c]) {
			col = utf8.RuneCount(raw[start:c])
			if open := unclosedFlow.FindStringSubmatch(msg); open != nil {
				// The list or mapping was never closed: point at where
				// it opens.
				if off := openingBracket(raw[:c], open[1][0]); off >= 0 {
					return posAt(raw, off)
				}
			}
			break
		}
	}
	return Pos{Line: line, Column: tokenStart(raw[start:stop], col, msg)}
}

var unclosedFlow = regexp.MustCompile(`^did not find expected ',' or '([\]}])'`)

// openingBracket is the offset of the [ or { that the closing bracket
// would match at the end of raw, or -1.
func openingBracket(raw []byte, closing byte) int {
	opening := byte('[')
	if closing == '}' {
		opening = '{'
	}
	depth := 0
	for i := len(raw) - 1; i >= 0; i-- {
		switch raw[i] {
		case ']', '}':
			depth++
		case '[', '{':
			if depth == 0 && raw[i] == opening {
				return i
			}
			depth--
		}
	}
	return -1
}

// tokenStart moves col (1-based, in characters) on line back to the start
// of what is at fault, where the parser failed only once past it: the
// key before a ':' that is not allowed, the version of a %YAML directive,
// an anchor, alias or tag read whole before it is refused.
func tokenStart(line []byte, col int, msg string) int {
	runes := []rune(string(line))
	if col < 1 || col > len(runes) {
		return col
	}
	i := col - 1
	switch {
	case strings.HasPrefix(msg, "mapping values are not allowed"):
		for i > 0 && runes[i-1] != ' ' && runes[i-1] != '\t' {
			i--
		}
		return i + 1
	case strings.HasPrefix(msg, "found incompatible YAML document"):
		if k := strings.Index(string(runes), "%YAML"); k >= 0 {
			rest := runes[k+len("%YAML"):]
			n := 0
			for n < len(rest) && rest[n] == ' ' {
				n++
			}
			return k + len("%YAML") + n + 1
		}
	}
	for j := i; j >= 0 && runes[j] != ' ' && runes[j] != '\t'; j-- {
		if runes[j] == '&' || runes[j] == '*' || runes[j] == '!' {
			return j + 1
		}
	}
	return col
}

// yamlLine is the line yaml.v3 put in err, or 0.
func yamlLine(err error) int {
	m := yamlErrLine.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func firstNonBlank(line []byte) int {
	for i, b := range line {
		if b != ' ' && b != '\t' {
			return utf8.RuneCount(line[:i]) + 1
		}
	}
	return 1
}

// posAt is the line and column (in characters) of byte offset off.
func posAt(raw []byte, off int) Pos {
	line := bytes.Count(raw[:off], []byte("\n")) + 1
	start := bytes.LastIndexByte(raw[:off], '\n') + 1
	return Pos{Line: line, Column: utf8.RuneCount(raw[start:off]) + 1}
}

// invalidUTF8 is the place of the first byte that is not UTF-8; the column
// counts the characters before it.
func invalidUTF8(raw []byte) Pos {
	for off := 0; off < len(raw); {
		r, size := utf8.DecodeRune(raw[off:])
		if r == utf8.RuneError && size <= 1 {
			return posAt(raw, off)
		}
		off += size
	}
	return Pos{}
}

// controlCharacter is the place of the first character YAML does not
// allow in a file (C0 controls other than tab, newline and carriage
// return, DEL, C1 controls other than NEL, surrogates, and U+FFFE/FFFF).
func controlCharacter(raw []byte) Pos {
	for off := 0; off < len(raw); {
		r, size := utf8.DecodeRune(raw[off:])
		printable := r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7e) || r == 0x85 ||
			(r >= 0xa0 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || (r >= 0x10000 && r <= 0x10ffff)
		if !printable || (r == 0xfeff && off > 0) {
			return posAt(raw, off)
		}
		off += size
	}
	return Pos{}
}

// secondDocument is where the second document of raw begins: its "---"
// line, or its first value when the marker cannot be found.
func secondDocument(raw []byte, doc *yaml.Node) Pos {
	at := doc.Line
	if len(doc.Content) > 0 {
		at = doc.Content[0].Line
	}
	lines := bytes.Split(raw, []byte("\n"))
	for i := min(at, len(lines)) - 1; i >= 1; i-- {
		l := lines[i]
		if bytes.HasPrefix(l, []byte("---")) || bytes.HasPrefix(l, []byte("...")) {
			return Pos{Line: i + 1, Column: 1}
		}
	}
	return Pos{Line: at, Column: 1}
}
