/*
 * vlart.h: the C ABI of the vlac runtime (libvlart).
 *
 * Opens compiled HyperVLA policies (.vla files), runs them on uint8 RGB camera frames and returns robot
 * actions. See Docs/C-API.md for a walkthrough and Examples/c-robot-loop/ for a complete program.
 *
 * Conventions, for every function:
 *  - Functions return a vla_status_t; VLA_OK (0) is success. On failure, out-parameters are left
 *    unchanged (or set to NULL for handles) and a message naming the problem is stored for the calling
 *    thread: read it with vla_last_error_message. A successful call does not clear it.
 *  - No function aborts, exits or traps on any input: NULL pointers, wrong sizes, bad or altered files,
 *    files that ask for more memory than the limit or than the system gives (VLA_ERR_LIMIT_EXCEEDED,
 *    VLA_ERR_OUT_OF_MEMORY), FIFOs or devices where a file is expected, and calls in the wrong order all
 *    return a status.
 *  - Sizes are in elements unless a name says bytes, and every size_t is compared as the unsigned value it
 *    is: (size_t)-1 as a capacity is a very large buffer, as a frame side it is out of range.
 *  - Frames are height x width x 3 uint8 RGB bytes, row-major, no padding between rows, for the functions
 *    that take rgb; vla_session_reset_frame and vla_session_step_frame take a vla_frame_t that describes
 *    BGR, RGBA, BGRA or gray pixels and padded rows.
 *  - Handles: a function dereferences a handle only after finding it among the live handles that
 *    vla_policy_open and vla_session_create returned, so a closed or destroyed handle, or one of the other
 *    kind, gives VLA_ERR_INVALID_ARGUMENT (unless a later open or create was given the same address: then
 *    it names that new object).
 *  - No action leaves the library unless every value of it is finite: a NaN or infinite raw chunk, or an
 *    action contract that turns a chunk into one, gives VLA_ERR_NON_FINITE_ACTION and writes nothing.
 *
 * Threading: a vla_policy_t is immutable after vla_policy_open and may be used from any number of
 * threads at once. A vla_session_t holds one episode's mutable state and its own arena: call its
 * functions from one thread at a time (different sessions may run on different threads in parallel).
 * A call on a session while another thread is inside a call on the same session returns VLA_ERR_BUSY
 * (an atomic flag; nothing is run); destroying a session while another thread uses it is undefined.
 * The last-error message is per thread.
 *
 * Files: the policy and its shared blobs are mapped read-only and verified once at vla_policy_open. The
 * integrator must guarantee that these files are not truncated or rewritten in place while the policy is
 * open (replace them by writing a new file and renaming it over the old one, as vlac does: the open
 * mapping keeps the old bytes). A file truncated under the mapping makes the next read of a lost page
 * raise SIGBUS in the reading thread; a file rewritten in place gives wrong weights (the tables, shapes and
 * offsets were parsed into private memory at open, and the values the runtime uses to index memory are
 * checked on a private copy, so no read leaves the mapping or the arena).
 */
#ifndef VLART_H
#define VLART_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Versions and the ABI promise. libvlart is installed as libvlart.so.MAJOR (its SONAME). Within one major
 * version the ABI only grows: functions are added (never removed or changed), status codes, pixel formats
 * and fields are added, and structs grow only at their end behind a struct_size field. A program built with
 * this header MAJOR.MINOR runs with every libvlart MAJOR.N for N >= MINOR; an incompatible change raises
 * the major version and so the SONAME. Programs that load the library at run time (dlopen, ctypes) call
 * VLART_CHECK_VERSION() once first.
 */
#define VLART_VERSION_MAJOR 1
#define VLART_VERSION_MINOR 0
#define VLART_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH, the form vla_runtime_version returns. */
#define VLART_VERSION (VLART_VERSION_MAJOR * 10000 + VLART_VERSION_MINOR * 100 + VLART_VERSION_PATCH)

/* Status codes. New codes may be added in later versions; treat unknown non-zero values as errors. */
typedef int32_t vla_status_t;
#define VLA_OK                    0 /* success */
#define VLA_ERR_INVALID_ARGUMENT  1 /* a NULL pointer, a size that does not match, a bad option value */
#define VLA_ERR_INVALID_FILE      2 /* a policy file that cannot be read or fails verification */
#define VLA_ERR_SHARED_BLOB       3 /* a shared blob that is missing, altered or does not match (the message names its SHA-256) */
#define VLA_ERR_INVALID_PROGRAM   4 /* a verified file that is not a runnable policy (conventions of the format spec, section 8.0) */
#define VLA_ERR_STATE             5 /* a call in the wrong order (step before reset on a policy with a reset program, or after a reset that failed) */
#define VLA_ERR_BUFFER_TOO_SMALL  6 /* an output buffer smaller than the result; nothing was written */
#define VLA_ERR_RUNTIME           7 /* a failure while running a program (out-of-range ids); a self-test message */
#define VLA_ERR_OUT_OF_MEMORY     8 /* the system refused an allocation (arena, scratch, weights); nothing was created */
#define VLA_ERR_NON_FINITE_ACTION 9 /* the step produced a NaN or infinite raw value or action; nothing was written */
#define VLA_ERR_BUSY             10 /* another thread is inside a call on this session; nothing was run */
#define VLA_ERR_LIMIT_EXCEEDED   11 /* the policy needs more than a limit allows (the session arena: max_arena_bytes) */
#define VLA_ERR_VERSION          12 /* the header a program was built with does not match the loaded library (vla_runtime_check_version) */

/* The arena limit of vla_session_create: 1 GiB, about 75 times the 13.9 MB a full-size HyperVLA policy needs. */
#define VLA_DEFAULT_MAX_ARENA_BYTES ((uint64_t)1 << 30)

/* An opened, verified policy with its shared blobs mapped. Opaque. */
typedef struct vla_policy vla_policy_t;
/* One episode stream of a policy: arena, image and ensembling state. Opaque. */
typedef struct vla_session vla_session_t;

/* What a policy takes and produces. */
typedef struct vla_policy_info {
    uint32_t action_dim;    /* values per action (7 for HyperVLA) */
    uint32_t horizon;       /* actions per raw chunk (4 for HyperVLA) */
    uint32_t image_height;  /* network input height (224); frames of any size are resized to it */
    uint32_t image_width;   /* network input width (224) */
    int32_t has_reset;      /* 1 when the policy has a reset program (call vla_session_reset before stepping) */
    uint64_t mapped_bytes;  /* bytes of the policy file plus its shared blobs, mapped read-only */
    uint64_t arena_bytes;   /* bytes of the arena each session allocates */
} vla_policy_info_t;

/* The loaded library's version as MAJOR * 10000 + MINOR * 100 + PATCH (compare with VLART_VERSION). Thread-safe. */
uint32_t vla_runtime_version(void);

/*
 * Checks that the loaded library serves a program built with header version major.minor: the same major
 * version and a minor version no older than the header's. VLA_ERR_VERSION with a message naming both
 * versions otherwise. Use VLART_CHECK_VERSION(). Thread-safe.
 */
vla_status_t vla_runtime_check_version(uint32_t major, uint32_t minor);
#define VLART_CHECK_VERSION() vla_runtime_check_version(VLART_VERSION_MAJOR, VLART_VERSION_MINOR)

/*
 * Copies the calling thread's last error message into buf (at most len - 1 bytes, then a NUL byte;
 * nothing is written when buf is NULL or len is 0). Returns the message length in bytes (without the
 * NUL), so a return value >= len means the copy was truncated. Returns 0 when no call on this thread
 * has failed yet. Thread-safe.
 */
size_t vla_last_error_message(char *buf, size_t len);

/*
 * Opens a policy: maps the file, verifies it once (digest, structure, every offset, shape and op),
 * and finds its shared blobs by SHA-256 in shared_dirs (shared_dir_count folders, searched in order;
 * when shared_dir_count is 0, the policy's folder and ../shared beside it). On success *out receives a
 * handle the caller owns and must release with vla_policy_close. path and shared_dirs are only read
 * during the call. The policy and every blob candidate must be regular files: a FIFO, device or
 * directory is refused without blocking, and a blob candidate whose size differs from the size the policy
 * records is refused before it is read. Thread-safe.
 */
vla_status_t vla_policy_open(const char *path, const char *const *shared_dirs, size_t shared_dir_count,
                             vla_policy_t **out);

/*
 * Releases the caller's reference to a policy. Sessions created from it keep it alive until they are
 * destroyed, so a policy may be closed before its sessions. NULL is ignored. Do not use the handle
 * afterwards.
 */
void vla_policy_close(vla_policy_t *policy);

/* Fills *info. Thread-safe. */
vla_status_t vla_policy_info(const vla_policy_t *policy, vla_policy_info_t *info);

/* Fields of vla_policy_string: what a robot integrator checks before running a policy. */
typedef int32_t vla_policy_field_t;
#define VLA_FIELD_INSTRUCTION    0 /* the instruction the policy was compiled for ("" when none) */
#define VLA_FIELD_ROBOT          1 /* the action contract's robot mapping: "none", "google_robot", "widowx_bridge", "libero" */
#define VLA_FIELD_CROP           2 /* the image contract's crop: "none" or "central 0.9" (method and area) */
#define VLA_FIELD_PRECISION      3 /* the matrix products' number format: "fp32", "bf16" or "int8" (from the weights' types) */
#define VLA_FIELD_MODEL_NAME     4 /* the model's name ("hypervla-tiny") */
#define VLA_FIELD_MODEL_SHA256   5 /* the model's hash: 64 lowercase hex digits of the SHA-256 over its defining files */
#define VLA_FIELD_FORMAT_VERSION 6 /* the .vla format version of the policy file: "1.2" */
#define VLA_FIELD_COMPILER       7 /* the compiler that wrote the file: "vlac 0.1.0" */

/*
 * Copies one field of the policy's description (VLA_FIELD_*) into buf as a NUL-terminated UTF-8 string and
 * sets *length to its length in bytes (without the NUL). buf NULL with len 0 asks for the length only. A
 * buffer of len <= *length is VLA_ERR_BUFFER_TOO_SMALL: nothing is written to buf, but *length is set (the
 * one out-parameter a failure sets). An unknown field is VLA_ERR_INVALID_ARGUMENT. Thread-safe.
 */
vla_status_t vla_policy_string(const vla_policy_t *policy, vla_policy_field_t field, char *buf, size_t len,
                               size_t *length);

/*
 * Runs the policy's embedded test vectors on a fresh arena (the runtime self-test). *passed is set to 1
 * when every vector holds within its tolerance (or there are none), else 0 (with a message). Thread-safe.
 */
vla_status_t vla_policy_self_test(const vla_policy_t *policy, int32_t *passed);

/*
 * Creates a session: allocates its arena and scratch memory and starts threads - 1 worker threads
 * (threads in 1..64; 0 means 1). The session arena (vla_policy_info's arena_bytes) is checked against
 * VLA_DEFAULT_MAX_ARENA_BYTES first (VLA_ERR_LIMIT_EXCEEDED, nothing allocated), and an allocation the
 * system refuses is VLA_ERR_OUT_OF_MEMORY. On success *out receives a handle the caller owns and must
 * release with vla_session_destroy. Thread-safe with respect to the policy.
 */
vla_status_t vla_session_create(vla_policy_t *policy, int32_t threads, vla_session_t **out);

/* Options of vla_session_create_with_options. Initialize with VLA_SESSION_OPTIONS_INIT, then set fields. */
typedef struct vla_session_options {
    uint32_t struct_size;     /* sizeof(vla_session_options_t); later versions may append fields */
    int32_t threads;          /* kernel threads, 1..64 (0 means 1) */
    uint64_t max_arena_bytes; /* refuse policies whose session arena is larger; 0 means VLA_DEFAULT_MAX_ARENA_BYTES */
} vla_session_options_t;

#define VLA_SESSION_OPTIONS_INIT { (uint32_t)sizeof(vla_session_options_t), 1, 0 }

/*
 * vla_session_create with options (see vla_session_options_t). options is only read during the call;
 * struct_size below sizeof(vla_session_options_t) of this header's first version (16) is
 * VLA_ERR_INVALID_ARGUMENT. Thread-safe with respect to the policy.
 */
vla_status_t vla_session_create_with_options(vla_policy_t *policy, const vla_session_options_t *options,
                                             vla_session_t **out);

/*
 * Destroys a session and stops its worker threads. NULL is ignored; a handle that is not live (destroyed
 * already) is ignored and leaves a message. Not concurrently with other calls on it (undefined).
 */
void vla_session_destroy(vla_session_t *session);

/*
 * Starts an episode on its first frame (rgb: height * width * 3 bytes, byte_count must equal that):
 * applies the image contract, runs the policy's reset program when it has one, and clears the
 * ensembling history and gripper state. rgb is only read during the call. One thread at a time per session.
 */
vla_status_t vla_session_reset(vla_session_t *session, const uint8_t *rgb, size_t height, size_t width,
                               size_t byte_count);

/*
 * One control step on a frame of any size (height, width in 1..16384): image contract, step program,
 * action contract. Writes action_dim floats to action (action_capacity must be >= action_dim).
 * A raw chunk or action holding a NaN or an infinity is VLA_ERR_NON_FINITE_ACTION: nothing is written
 * and the ensembling history is unchanged (vla_session_chunk with processed 0 shows the refused chunk).
 * After a reset with frames of the same size, allocates no memory. One thread at a time per session
 * (VLA_ERR_BUSY otherwise).
 */
vla_status_t vla_session_step(vla_session_t *session, const uint8_t *rgb, size_t height, size_t width,
                              size_t byte_count, float *action, size_t action_capacity);

/*
 * Like vla_session_step, for a frame already preprocessed to image_height x image_width x 3 uint8
 * (after resize, crop and rounding): only the normalization is applied.
 */
vla_status_t vla_session_step_preprocessed(vla_session_t *session, const uint8_t *pixels, size_t byte_count,
                                           float *action, size_t action_capacity);

/* Pixel formats of vla_frame_t. */
typedef int32_t vla_pixel_format_t;
#define VLA_PIXEL_RGB  0 /* 3 bytes: red, green, blue */
#define VLA_PIXEL_BGR  1 /* 3 bytes: blue, green, red (OpenCV) */
#define VLA_PIXEL_RGBA 2 /* 4 bytes: red, green, blue, ignored */
#define VLA_PIXEL_BGRA 3 /* 4 bytes: blue, green, red, ignored */
#define VLA_PIXEL_GRAY 4 /* 1 byte, used as red, green and blue */

/*
 * A camera frame as the camera delivered it. Pixel (y, x) starts at data + y * row_stride + x * bytes per
 * pixel. The image contract sees exactly the RGB values of a packed RGB copy, so actions are bit-identical
 * to vla_session_step on that copy.
 */
typedef struct vla_frame {
    const uint8_t *data;        /* the first byte of the first row; only read during the call */
    size_t byte_count;          /* bytes readable at data: at least (height - 1) * row_stride + width * bytes per pixel */
    size_t height;              /* rows, 1..16384 */
    size_t width;               /* pixels per row, 1..16384 */
    size_t row_stride;          /* bytes from one row's start to the next; 0 means packed (width * bytes per pixel) */
    vla_pixel_format_t pixel_format; /* VLA_PIXEL_* */
} vla_frame_t;

/*
 * vla_session_reset on a described frame. A NULL frame or data, a side outside 1..16384, a row_stride smaller
 * than a row, a byte_count smaller than the frame, sizes that overflow, or an unknown pixel_format is
 * VLA_ERR_INVALID_ARGUMENT with a message. One thread at a time per session (VLA_ERR_BUSY otherwise).
 */
vla_status_t vla_session_reset_frame(vla_session_t *session, const vla_frame_t *frame);

/*
 * vla_session_step on a described frame (checked as in vla_session_reset_frame). Writes action_dim floats to
 * action. After a reset with frames of the same size and stride, allocates no memory. One thread at a time
 * per session (VLA_ERR_BUSY otherwise).
 */
vla_status_t vla_session_step_frame(vla_session_t *session, const vla_frame_t *frame, float *action,
                                    size_t action_capacity);

/*
 * Copies the last raw chunk (horizon * action_dim floats, row-major: pre-squash values and the gripper
 * logit, as the step program wrote them) when processed is 0, or the chunk after squash, gripper rule
 * and unnormalization when processed is 1. capacity must be >= horizon * action_dim.
 */
vla_status_t vla_session_chunk(const vla_session_t *session, int32_t processed, float *out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif /* VLART_H */
