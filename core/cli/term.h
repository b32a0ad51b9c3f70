/*
 * term.h - the terminal of `clustershm watch`: keys without Enter, a
 * screen redrawn in place, and the terminal given back as it was found.
 *
 * Invariants:
 *  - cli_term_start() saves stdin's termios before changing anything, and
 *    cli_term_stop() restores exactly that, leaves the alternate screen and
 *    shows the cursor again; stop is idempotent and is also registered with
 *    atexit(), so no way out of the program that runs exit handlers leaves
 *    raw mode behind.
 *  - The signals that end a watch (SIGINT, SIGTERM, SIGHUP, SIGQUIT) only
 *    set a flag (async-signal-safe); the loop sees it, leaves, and the
 *    terminal is restored on the normal path.  SIGTSTP (Ctrl-Z) restores
 *    the terminal before the process stops and takes it again on SIGCONT.
 *  - Only ICANON and ECHO are cleared: ISIG stays, so Ctrl-C still sends
 *    SIGINT, and output processing is untouched.
 *  - The previous dispositions of every signal handled here are restored at
 *    stop (the same code runs inside the Python interpreter, whose own
 *    handlers must come back).
 *  - Without a terminal (stdout not a tty) nothing here writes escapes:
 *    cli_term_start(0) only installs the signal flags.
 */
#ifndef CSHM_CLI_TERM_H
#define CSHM_CLI_TERM_H

/* screen: take the terminal (raw keys when stdin is a tty, alternate
 * screen, hidden cursor); 0: signal flags only.  Returns 0 or -1. */
int cli_term_start(int screen);
void cli_term_stop(void);

/* A quit signal arrived (its number), or 0. */
int cli_term_quit_signal(void);
/* Ctrl-Z arrived: give the terminal back, stop, take it again; returns 1
 * when it did (the caller redraws). */
int cli_term_handle_suspend(void);
/* The window changed size since the last call. */
int cli_term_resized(void);
/* Rows and columns of the terminal (24 x 80 when unknown). */
void cli_term_size(int *rows, int *cols);
/* Wait up to seconds for a key on stdin (only with a screen and a tty
 * stdin; otherwise just sleeps).  Returns the key, 0 when none came, or -1
 * when a signal interrupted the wait. */
int cli_term_wait_key(double seconds);

#endif
