package i18n

import (
	"reflect"
	"testing"
)

func TestParseCFormatStars(t *testing.T) {
	for s, want := range map[string][]formatArg{
		"%*d":        {{"1", 'd'}, {"2", 'd'}},
		"%.*f":       {{"1", 'd'}, {"2", 'f'}},
		"%*.*f":      {{"1", 'd'}, {"2", 'd'}, {"3", 'f'}},
		"%2$*1$d":    {{"1", 'd'}, {"2", 'd'}},
		"%-8.3s|%5d": {{"1", 's'}, {"2", 'd'}},
	} {
		got, err := parseCFormat(s)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseCFormat(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}
