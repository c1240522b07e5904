package experiments

import (
	"errors"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/chaos"
)

// decodeNode decodes a `faults:` entry: its kind picks the kind's own
// struct from the chaos registry, and the rest of the entry decodes
// strictly into that struct and the placement (at, for) together, so an
// unknown field is reported with the fields of that kind, and every
// field's position is recorded for the kind's own checks.
func (fs *FaultSpec) decodeNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(nodePos(n), path, "want a mapping with a kind and its fields, got %s", describeNode(n))
		return
	}
	var kindNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			kindNode = n.Content[i+1]
		}
	}
	if kindNode == nil {
		_, err := chaos.NewFault("")
		d.addf(nodePos(n), "%s: %v", displayPath(path), err)
		return
	}
	f, err := chaos.NewFault(kindNode.Value)
	if err != nil {
		d.fail(nodePos(kindNode), path+".kind", "%v", err)
		return
	}
	whole := reflect.New(reflect.StructOf([]reflect.StructField{
		{Name: "Placement", Type: reflect.TypeOf(FaultSpec{}), Tag: `yaml:",inline"`},
		{Name: "Config", Type: reflect.TypeOf(f).Elem(), Tag: `yaml:",inline"`},
	})).Elem()
	// Start from the kind's zero fault: it knows its own kind name.
	whole.Field(1).Set(reflect.ValueOf(f).Elem())
	d.decode(n, whole, path)
	*fs = whole.Field(0).Interface().(FaultSpec)
	reflect.ValueOf(f).Elem().Set(whole.Field(1))
	fs.Fault = f
}

func (v *validator) validateFault(path string, ps PhaseSpec, phase *Phase, index int, fs FaultSpec) {
	if fs.Fault != nil {
		for _, err := range v.withKnownNamespace(fs.Fault).Validate() {
			at := path
			var fe *chaos.FieldError
			if errors.As(err, &fe) {
				at = join(path, fe.Field)
			}
			v.problem(at, "%s: %v", fs.Kind, err)
		}
	}
	if fs.At < 0 {
		v.problem(path+".at", "must not be negative")
	}
	if fs.For < 0 {
		v.problem(path+".for", "must not be negative")
	}
	end := ps.Duration
	if fs.For > 0 {
		end = fs.At + fs.For
	}
	if fs.At >= ps.Duration && ps.Duration > 0 {
		v.problem(path+".at", "%s is not inside the phase (%s long)", fs.At, ps.Duration)
	} else if end > ps.Duration && ps.Duration > 0 {
		v.problem(path+".for", "the fault would end %s into a %s phase: faults are reverted by the end of their phase", end, ps.Duration)
	}
	proxy, upstream, service := faultField(fs, "proxy"), faultField(fs, "upstream"), faultField(fs, "service")
	if proxy != "" && upstream == "" && !contains(v.proxyNames(), proxy) {
		v.problem(path+".proxy", "%v", unknownName("proxy", proxy, v.proxyNames()))
	}
	if service != "" && v.exp.Targets.Shop && !contains(v.targetNames(), service) {
		v.problem(path+".service", "%v", unknownName("service", service, v.targetNames()))
	}
	if fs.Kind == "crash" && (!v.exp.Targets.Shop || v.exp.Targets.Docker) {
		v.problem(path, "crash acts on the bundled shop's in-process services: add targets.shop: true (for containers, use kill)")
	}
	if fs.Kind == "cpu_stress" && service != "" && (!v.exp.Targets.Shop || v.exp.Targets.Docker) {
		v.problem(path+".service", "cpu_stress with service acts on the bundled shop's in-process services: add targets.shop: true (for containers, use names or labels)")
	}
	if fs.Fault != nil {
		v.checkRefs(path, fs.Fault)
	}
	v.plan.Faults = append(v.plan.Faults, &PlannedFault{
		Phase: ps.Name, Index: index, Kind: fs.Kind, Fault: fs.Fault,
		Start: phase.Start + v.scale(fs.At), End: phase.Start + v.scale(end), path: path,
	})
}

// faultField is the value of the fault's field called name, as written in
// YAML, or "" when its kind has no such field or it is not set.
func faultField(fs FaultSpec, name string) string {
	if fs.Fault == nil {
		return ""
	}
	info, _ := chaos.DescribeKind(fs.Kind)
	for _, f := range info.Fields {
		if f.Name == name {
			return f.Value(fs.Fault)
		}
	}
	return ""
}

// faultGroup is what the fault's kind acts on (chaos.GroupToxiproxy, ...).
func faultGroup(f *PlannedFault) string {
	info, _ := chaos.DescribeKind(f.Kind)
	return info.Group
}
