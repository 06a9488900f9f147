/**
 * The app's own confirmation dialog. The browser's `confirm()` shows the site's address as its
 * title, in the browser's language, and some in-app browsers (Zalo, Facebook) silently answer it
 * with "OK"; a destructive action must be confirmed in the app's words. One dialog at a time:
 * DialogHost (mounted once in the root layout) shows `dialogs.current`.
 */
export interface AskOptions {
  message: string;
  /** label of the confirming button (default "Đồng ý" / "OK") */
  confirm?: string;
  /** label of the cancelling button (default "Hủy" / "Cancel") */
  cancel?: string;
  /** the confirming button is red: the action deletes or ends something */
  danger?: boolean;
}

export interface Question extends AskOptions {
  answer(yes: boolean): void;
}

class Dialogs {
  // raw: the question is compared by identity when answered, a deep proxy would not be the same object
  current = $state.raw<Question | null>(null);
}

export const dialogs = new Dialogs();

/** Resolves true when the person confirms; false on cancel, Escape, or when another question replaces it. */
export function ask(options: AskOptions): Promise<boolean> {
  dialogs.current?.answer(false);
  return new Promise((resolve) => {
    const question: Question = {
      ...options,
      answer(yes) {
        if (dialogs.current === question) dialogs.current = null;
        resolve(yes);
      }
    };
    dialogs.current = question;
  });
}
