import type { Notifier, PromotionNotification, ReleaseAnnouncement } from '../../activities/notify/notifier.js';

/** A notifier that remembers what it was told, and can be made to fail its first calls. */
export class RecordingNotifier implements Notifier {
  readonly name = 'recording';
  /** The notification strategy's promotions. */
  readonly received: PromotionNotification[] = [];
  /** The releases' notices (waiting, reminders, decided, promoted, failed…). */
  readonly announced: ReleaseAnnouncement[] = [];
  private failuresLeft = 0;
  private announceFailuresLeft = 0;

  failNext(times: number): void {
    this.failuresLeft = times;
  }

  /** Makes the next `times` notices fail, as an unreachable notification-controller would. */
  failNextAnnouncements(times: number): void {
    this.announceFailuresLeft = times;
  }

  notify(notification: PromotionNotification): Promise<void> {
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      return Promise.reject(new Error('notification-controller unavailable (simulated)'));
    }
    this.received.push(notification);
    return Promise.resolve();
  }

  announce(announcement: ReleaseAnnouncement): Promise<void> {
    if (this.announceFailuresLeft > 0) {
      this.announceFailuresLeft -= 1;
      return Promise.reject(new Error('notification-controller unavailable (simulated)'));
    }
    this.announced.push(announcement);
    return Promise.resolve();
  }

  /** The notices of one release, in the order they were told. */
  noticesOf(workflowId: string): ReleaseAnnouncement[] {
    return this.announced.filter((a) => a.workflowId === workflowId);
  }
}
