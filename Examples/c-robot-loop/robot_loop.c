/*
 * c-robot-loop: the shape of a robot control loop on libvlart.
 *
 *   robot_loop POLICY.vla [SHARED_DIR] [STEPS]
 *
 * Opens the policy (verifying it and finding its shared blobs), runs its self-test, creates a session,
 * resets on a first synthetic 480 x 640 camera frame, then steps on STEPS frames (default 12) and prints
 * each action. Then it shows that bad input is an error status with a message, not a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vlart.h"

enum { HEIGHT = 480, WIDTH = 640 };

static int report(const char *what, vla_status_t status) {
    char message[1024];
    vla_last_error_message(message, sizeof message);
    fprintf(stderr, "%s failed with status %d: %s\n", what, (int)status, message);
    return 1;
}

/* A moving synthetic scene, standing in for the camera. */
static void render(uint8_t *rgb, int t) {
    for (int y = 0; y < HEIGHT; y++) {
        for (int x = 0; x < WIDTH; x++) {
            uint8_t *p = rgb + ((size_t)y * WIDTH + x) * 3;
            p[0] = (uint8_t)(x + 5 * t);
            p[1] = (uint8_t)(y * 2 + 3 * t);
            p[2] = (uint8_t)(((x / 40 + y / 40 + t) % 2) * 200);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s POLICY.vla [SHARED_DIR] [STEPS]\n", argv[0]);
        return 64;
    }
    const char *dirs[1] = {argc > 2 ? argv[2] : NULL};
    int steps = argc > 3 ? atoi(argv[3]) : 12;

    /* The library must serve this header's version (same major, minor at least the header's). */
    vla_status_t status = VLART_CHECK_VERSION();
    if (status != VLA_OK) return report("VLART_CHECK_VERSION", status);
    printf("libvlart %u (header %d.%d.%d)\n", vla_runtime_version(), VLART_VERSION_MAJOR, VLART_VERSION_MINOR,
           VLART_VERSION_PATCH);

    vla_policy_t *policy = NULL;
    status = vla_policy_open(argv[1], dirs, argc > 2 ? 1 : 0, &policy);
    if (status != VLA_OK) return report("vla_policy_open", status);

    vla_policy_info_t info;
    if ((status = vla_policy_info(policy, &info)) != VLA_OK) return report("vla_policy_info", status);
    printf("policy: action_dim %u, horizon %u, input %ux%u, reset %s, mapped %llu bytes, arena %llu bytes\n",
           info.action_dim, info.horizon, info.image_height, info.image_width, info.has_reset ? "yes" : "no",
           (unsigned long long)info.mapped_bytes, (unsigned long long)info.arena_bytes);

    int32_t passed = 0;
    if ((status = vla_policy_self_test(policy, &passed)) != VLA_OK) return report("vla_policy_self_test", status);
    printf("self-test: %s\n", passed ? "passed" : "FAILED");
    if (!passed) return 1;

    vla_session_t *session = NULL;
    if ((status = vla_session_create(policy, 1, &session)) != VLA_OK) return report("vla_session_create", status);
    vla_policy_close(policy); /* the session keeps the policy alive */

    uint8_t *frame = malloc((size_t)HEIGHT * WIDTH * 3);
    float *action = malloc(sizeof(float) * info.action_dim);
    if (!frame || !action) return 1;

    render(frame, 0);
    if ((status = vla_session_reset(session, frame, HEIGHT, WIDTH, (size_t)HEIGHT * WIDTH * 3)) != VLA_OK)
        return report("vla_session_reset", status);
    for (int t = 0; t < steps; t++) {
        render(frame, t);
        status = vla_session_step(session, frame, HEIGHT, WIDTH, (size_t)HEIGHT * WIDTH * 3, action, info.action_dim);
        if (status != VLA_OK) return report("vla_session_step", status);
        printf("step %2d:", t);
        for (uint32_t d = 0; d < info.action_dim; d++) printf(" %+.6f", action[d]);
        printf("\n");
    }

    /* Bad input: every call below must return an error status with a message, never crash. */
    char message[512];
    int errors = 0;
    status = vla_session_step(session, frame, HEIGHT, WIDTH, 12345, action, info.action_dim);
    errors += status == VLA_ERR_INVALID_ARGUMENT;
    status = vla_session_step(session, NULL, HEIGHT, WIDTH, (size_t)HEIGHT * WIDTH * 3, action, info.action_dim);
    errors += status == VLA_ERR_INVALID_ARGUMENT;
    status = vla_session_step(NULL, frame, HEIGHT, WIDTH, (size_t)HEIGHT * WIDTH * 3, action, info.action_dim);
    errors += status == VLA_ERR_INVALID_ARGUMENT;
    status = vla_session_step(session, frame, HEIGHT, WIDTH, (size_t)HEIGHT * WIDTH * 3, action, 1);
    errors += status == VLA_ERR_BUFFER_TOO_SMALL;
    vla_policy_t *missing = NULL;
    status = vla_policy_open("/nonexistent/policy.vla", NULL, 0, &missing);
    errors += status == VLA_ERR_INVALID_FILE && missing == NULL;
    errors += vla_policy_open(NULL, NULL, 0, &missing) == VLA_ERR_INVALID_ARGUMENT;
    size_t length = vla_last_error_message(message, sizeof message);
    printf("bad input: %d/6 rejected with a status; last message (%zu bytes): %s\n", errors, length, message);

    vla_session_destroy(session);
    free(frame);
    free(action);
    return errors == 6 ? 0 : 1;
}
