// A small C++ consumer of the installed libvlart (scripts/test-libvlart.sh builds it through pkg-config and
// through CMake's find_package(vlart)): the version check, the policy's description strings, frames as
// cameras deliver them (BGRA with padded rows against packed RGB, bit for bit), and bad input as statuses.
//
//   consumer POLICY.vla SHARED_DIR
#include <vlart.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

static int failures = 0;

static void check(bool ok, const char *what) {
    if (ok) return;
    char message[1024];
    vla_last_error_message(message, sizeof message);
    std::fprintf(stderr, "FAILED: %s (last message: %s)\n", what, message);
    failures++;
}

// Expects status from a call with bad input, and a message that contains `needle`.
static void expect(vla_status_t status, vla_status_t want, const char *needle, const char *what) {
    char message[1024] = {0};
    vla_last_error_message(message, sizeof message);
    if (status != want || std::strstr(message, needle) == nullptr) {
        std::fprintf(stderr, "FAILED: %s: status %d (want %d), message \"%s\" (want \"%s\")\n", what, (int)status,
                     (int)want, message, needle);
        failures++;
    }
}

static std::string field(const vla_policy_t *policy, vla_policy_field_t f) {
    size_t length = 0;
    if (vla_policy_string(policy, f, nullptr, 0, &length) != VLA_OK) return "<error>";
    std::vector<char> buf(length + 1);
    if (vla_policy_string(policy, f, buf.data(), buf.size(), &length) != VLA_OK) return "<error>";
    return std::string(buf.data(), length);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s POLICY.vla SHARED_DIR\n", argv[0]);
        return 64;
    }
    check(VLART_CHECK_VERSION() == VLA_OK, "VLART_CHECK_VERSION");
    check(vla_runtime_version() == VLART_VERSION, "vla_runtime_version() == VLART_VERSION");
    std::printf("libvlart %u, header %d.%d.%d\n", vla_runtime_version(), VLART_VERSION_MAJOR, VLART_VERSION_MINOR,
                VLART_VERSION_PATCH);
    expect(vla_runtime_check_version(VLART_VERSION_MAJOR + 1, 0), VLA_ERR_VERSION, "major versions differ",
           "a header of the next major version");
    expect(vla_runtime_check_version(VLART_VERSION_MAJOR, VLART_VERSION_MINOR + 1), VLA_ERR_VERSION,
           "older than the header", "a header of a later minor version");

    const char *dirs[1] = {argv[2]};
    vla_policy_t *policy = nullptr;
    check(vla_policy_open(argv[1], dirs, 1, &policy) == VLA_OK, "vla_policy_open");
    if (!policy) return 1;
    vla_policy_info_t info;
    check(vla_policy_info(policy, &info) == VLA_OK, "vla_policy_info");
    static const char *names[] = {"instruction", "robot", "crop", "precision", "model", "model_sha256", "format", "compiler"};
    for (int f = VLA_FIELD_INSTRUCTION; f <= VLA_FIELD_COMPILER; f++)
        std::printf("%-13s %s\n", names[f], field(policy, f).c_str());
    check(field(policy, VLA_FIELD_MODEL_SHA256).size() == 64, "the model hash has 64 hex digits");

    size_t length = 0;
    char small[2];
    expect(vla_policy_string(policy, 99, nullptr, 0, &length), VLA_ERR_INVALID_ARGUMENT, "not a VLA_FIELD_",
           "an unknown field");
    expect(vla_policy_string(policy, VLA_FIELD_MODEL_SHA256, small, sizeof small, &length), VLA_ERR_BUFFER_TOO_SMALL,
           "len is 2", "a small buffer");
    check(length == 64, "*length is set on VLA_ERR_BUFFER_TOO_SMALL");
    expect(vla_policy_string(policy, VLA_FIELD_ROBOT, small, sizeof small, nullptr), VLA_ERR_INVALID_ARGUMENT,
           "length is NULL", "a NULL length");

    // The same 37 x 53 scene twice: packed RGB and BGRA rows padded to 256 bytes.
    const size_t h = 37, w = 53, stride = 256;
    std::vector<uint8_t> rgb(h * w * 3), bgra(h * stride, 0xEE);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            uint8_t r = (uint8_t)(x * 5 + y), g = (uint8_t)(y * 7), b = (uint8_t)((x ^ y) * 3);
            uint8_t *p = &rgb[(y * w + x) * 3], *q = &bgra[y * stride + x * 4];
            p[0] = r; p[1] = g; p[2] = b;
            q[0] = b; q[1] = g; q[2] = r; q[3] = 0x55;
        }
    vla_session_t *a = nullptr, *b = nullptr;
    check(vla_session_create(policy, 1, &a) == VLA_OK && vla_session_create(policy, 1, &b) == VLA_OK, "sessions");
    vla_policy_close(policy);
    if (!a || !b) return 1;
    vla_frame_t frame = {bgra.data(), bgra.size(), h, w, stride, VLA_PIXEL_BGRA};
    check(vla_session_reset(a, rgb.data(), h, w, rgb.size()) == VLA_OK, "reset on RGB");
    check(vla_session_reset_frame(b, &frame) == VLA_OK, "reset on the BGRA frame");
    std::vector<float> x(info.action_dim), y(info.action_dim);
    for (int t = 0; t < 3; t++) {
        check(vla_session_step(a, rgb.data(), h, w, rgb.size(), x.data(), x.size()) == VLA_OK, "step on RGB");
        check(vla_session_step_frame(b, &frame, y.data(), y.size()) == VLA_OK, "step on the BGRA frame");
        check(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0, "BGRA padded actions equal RGB ones bit for bit");
    }
    std::printf("frames: BGRA rows of %zu bytes give the RGB actions bit for bit (%+.6f ...)\n", stride, (double)y[0]);

    // Bad frames: each a status and a message.
    vla_frame_t bad = frame;
    expect(vla_session_step_frame(b, nullptr, y.data(), y.size()), VLA_ERR_INVALID_ARGUMENT, "frame is NULL", "NULL frame");
    bad.data = nullptr;
    expect(vla_session_step_frame(b, &bad, y.data(), y.size()), VLA_ERR_INVALID_ARGUMENT, "data is NULL", "NULL data");
    bad = frame; bad.row_stride = w * 4 - 1;
    expect(vla_session_step_frame(b, &bad, y.data(), y.size()), VLA_ERR_INVALID_ARGUMENT, "smaller than a row", "short stride");
    bad = frame; bad.pixel_format = 7;
    expect(vla_session_step_frame(b, &bad, y.data(), y.size()), VLA_ERR_INVALID_ARGUMENT, "pixel_format 7", "unknown layout");
    bad = frame; bad.row_stride = (size_t)-1 / 2;
    expect(vla_session_step_frame(b, &bad, y.data(), y.size()), VLA_ERR_INVALID_ARGUMENT, "overflows", "overflowing stride");
    bad = frame; bad.byte_count = bgra.size() - 300;
    expect(vla_session_reset_frame(b, &bad), VLA_ERR_INVALID_ARGUMENT, "needs", "short buffer");

    vla_session_destroy(a);
    vla_session_destroy(b);
    if (failures) {
        std::fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    std::printf("consumer: all checks passed\n");
    return 0;
}
