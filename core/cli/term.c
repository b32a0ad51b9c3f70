/*
 * term.c - the terminal of `clustershm watch` (see term.h for the
 * invariants: saved and restored termios, flag-only signal handlers,
 * previous dispositions restored).
 */
#include "term.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t quit_signal;
static volatile sig_atomic_t suspend_flag;
static volatile sig_atomic_t resize_flag;

static int screen_on;          /* alternate screen taken */
static int raw_on;             /* stdin's termios changed */
static int handlers_on;
static int atexit_done;
static struct termios saved_termios;

static const int QUIT_SIGNALS[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NQUIT ((int)(sizeof QUIT_SIGNALS / sizeof QUIT_SIGNALS[0]))
static struct sigaction saved_quit[NQUIT], saved_tstp, saved_winch;

static void on_quit(int sig) { quit_signal = sig; }
static void on_tstp(int sig) { (void)sig; suspend_flag = 1; }
static void on_winch(int sig) { (void)sig; resize_flag = 1; }

static void write_all(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void handlers(int install)
{
    if (install && !handlers_on) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; /* no SA_RESTART: a signal ends the wait at once */
        sa.sa_handler = on_quit;
        for (int i = 0; i < NQUIT; i++)
            sigaction(QUIT_SIGNALS[i], &sa, &saved_quit[i]);
        sa.sa_handler = on_tstp;
        sigaction(SIGTSTP, &sa, &saved_tstp);
        sa.sa_handler = on_winch;
        sigaction(SIGWINCH, &sa, &saved_winch);
        handlers_on = 1;
    } else if (!install && handlers_on) {
        for (int i = 0; i < NQUIT; i++)
            sigaction(QUIT_SIGNALS[i], &saved_quit[i], NULL);
        sigaction(SIGTSTP, &saved_tstp, NULL);
        sigaction(SIGWINCH, &saved_winch, NULL);
        handlers_on = 0;
    }
}

/* Raw keys and the alternate screen; their undoing is give_back(). */
static void take_terminal(void)
{
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
        struct termios t = saved_termios;
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
            raw_on = 1;
    }
    fflush(stdout);
    write_all("\033[?1049h\033[?25l\033[2J\033[H");
    screen_on = 1;
}

static void give_back(void)
{
    if (screen_on) {
        fflush(stdout);
        write_all("\033[?25h\033[?1049l");
        screen_on = 0;
    }
    if (raw_on) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
        raw_on = 0;
    }
}

static int screen_wanted;

int cli_term_start(int screen)
{
    quit_signal = 0;
    suspend_flag = 0;
    resize_flag = 0;
    screen_wanted = screen;
    if (!atexit_done) {
        atexit(cli_term_stop);
        atexit_done = 1;
    }
    handlers(1);
    if (screen)
        take_terminal();
    return 0;
}

void cli_term_stop(void)
{
    give_back();
    handlers(0);
}

int cli_term_quit_signal(void) { return quit_signal; }

int cli_term_handle_suspend(void)
{
    if (!suspend_flag)
        return 0;
    suspend_flag = 0;
    if (!screen_wanted)
        return 0;
    give_back();
    /* The default action of SIGTSTP, which our handler replaced. */
    raise(SIGSTOP);
    take_terminal();
    return 1;
}

int cli_term_resized(void)
{
    int r = resize_flag;
    resize_flag = 0;
    return r;
}

void cli_term_size(int *rows, int *cols)
{
    struct winsize ws;
    *rows = 24;
    *cols = 80;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    }
}

int cli_term_wait_key(double seconds)
{
    if (seconds < 0)
        seconds = 0;
    if (!raw_on) {
        struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
        return nanosleep(&ts, NULL) == 0 ? 0 : -1;
    }
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    int rc = poll(&p, 1, (int)(seconds * 1000 + 0.5));
    if (rc < 0)
        return -1;
    if (rc == 0)
        return 0;
    unsigned char buf[32];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0)
        return errno == EINTR ? -1 : 0;
    if (n == 0) {
        /* the terminal went away: no more keys, just wait */
        struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
        nanosleep(&ts, NULL);
        return 0;
    }
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 'q' || buf[i] == 'Q')
            return 'q';
    return buf[0];
}
