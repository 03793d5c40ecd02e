package s3

// SetMaxCopySize lowers the size above which Copy copies part by part, so tests can exercise
// the multipart copy without 5 GiB objects.
func (d *Driver) SetMaxCopySize(n int64) { d.maxCopySize = n }

// SetMaxParts lowers S3's 10,000-part limit, so tests can reach it.
func (d *Driver) SetMaxParts(n int) { d.maxParts = n }
