package ui

import (
	"testing"
	"time"
)

func TestAgo(t *testing.T) {
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		then time.Time
		want string
	}{
		{time.Time{}, "never"},
		{now.Add(-10 * time.Second), "just now"},
		{now.Add(time.Minute), "just now"}, // a device clock slightly ahead
		{now.Add(-time.Minute), "1 minute ago"},
		{now.Add(-59 * time.Minute), "59 minutes ago"},
		{now.Add(-2 * time.Hour), "2 hours ago"},
		{now.Add(-36 * time.Hour), "2 days ago"},
		{now.AddDate(0, 0, -59), "59 days ago"},
		{now.AddDate(-1, 0, 0), "on 10 May 2025"},
	}
	for _, tt := range tests {
		if got := ago(now, tt.then); got != tt.want {
			t.Errorf("ago(%v) = %q, want %q", tt.then, got, tt.want)
		}
	}
}
