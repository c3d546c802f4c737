package engine

import (
	"context"
	"fmt"
	"time"
)

// A parent's guest can freeze itself once it is prepared (`vmware-rpctool
// instantclone.freeze`, as Horizon's agent does). Children of a frozen parent fork from that
// prepared state and add no delta disk to it; children of a running, unfrozen one fork from
// wherever its guest happens to be (vSphere Web Services SDK programming guide, "Run State of
// the Instant Clone Source"). An image with parent_ready = "frozen" has every parent waited
// for until it froze, before any clone is made from it.

// freezePoll is how often a parent is looked at while it is expected to freeze.
const freezePoll = 500 * time.Millisecond

// awaitFrozen returns once parent froze itself, when the image asks for frozen parents; a
// parent that does not freeze within the image's timeout fails, naming it.
func (e *Engine) awaitFrozen(ctx context.Context, pub *publication, parentID string) error {
	img := pub.img
	if img.ParentReady != ParentFrozen {
		return nil
	}
	deadline := time.Now().Add(img.freezeTimeout())
	for told := false; ; told = true {
		_, vms, err := e.vc.Contents(ctx, pub.folders[ParentFolder])
		if err != nil {
			return fmt.Errorf("checking whether parent VM %s froze: %w", parentID, err)
		}
		var p *VM
		for i := range vms {
			if vms[i].ID == parentID {
				p = &vms[i]
			}
		}
		if p == nil {
			return fmt.Errorf("parent VM %s of image %s: %w", parentID, img.ID, ErrNotFound)
		}
		if p.Frozen {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("parent VM %s (%s) of image %s did not freeze within %s: the image asks for frozen parents (parent_ready = %q), so its guest must freeze itself once prepared (vmware-rpctool instantclone.freeze); no clone was made from it",
				p.Name, p.ID, img.ID, img.freezeTimeout(), ParentFrozen)
		}
		if !told {
			e.log.Info(ctx, "waiting for a parent VM to freeze", map[string]any{"image": img.ID, "vm": p.ID, "name": p.Name, "timeout": img.freezeTimeout().String()})
		}
		if err := sleep(ctx, freezePoll); err != nil {
			return fmt.Errorf("waiting for parent VM %s to freeze: %w", p.Name, err)
		}
	}
}
