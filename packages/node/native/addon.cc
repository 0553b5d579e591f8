// Node-API binding over miniav_c.
//
// Frames reach JavaScript as external ArrayBuffers over the pool's memory: zero
// copies. release() detaches them and calls MiniAV_ReleaseBuffer. Where external
// buffers are not allowed (Electron's V8 sandbox) a frame is copied once, released
// at once, and counted in the stream's `copies`.
//
// Threading: the C core calls back on its capture thread. The callback only queues
// the buffer (bounded; the drop policy picks what gives way) and pokes a
// thread-safe function; the JS thread drains the queue. The capture thread never
// waits for JavaScript.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

extern "C" {
#include "miniav.h"
}

#ifdef _WIN32
// Windows: Node-API comes from the host executable. The import library names "node.exe",
// and it is delay-loaded (dlltool --output-delaylib) so this hook can answer with the
// process's own executable whatever its name: Electron apps, renamed node.exe.
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <delayimp.h>

static FARPROC WINAPI LoadNodeFromHost(unsigned event, PDelayLoadInfo info) {
  if (event == dliNotePreLoadLibrary && info && info->szDll && _stricmp(info->szDll, "node.exe") == 0)
    return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
  return nullptr;
}

// Before any napi_* call: Node calls the module's init only after loading it.
BOOL WINAPI DllMain(HINSTANCE, DWORD reason, LPVOID) {
  if (reason == DLL_PROCESS_ATTACH) __pfnDliNotifyHook2 = LoadNodeFromHost;
  return TRUE;
}
#endif

namespace {

struct AddonData {
  Napi::FunctionReference error_class;  // MiniAVError, injected by the TS layer
  Napi::FunctionReference stream_ctor;
  Napi::FunctionReference watch_ctor;
  bool force_copy = false;
};

Napi::Error MakeError(Napi::Env env, MiniAVResultCode code, const std::string& message) {
  auto* data = env.GetInstanceData<AddonData>();
  std::string text = message.empty() ? MiniAV_GetErrorString(code) : message;
  if (data && !data->error_class.IsEmpty()) {
    Napi::Value err = data->error_class.New({Napi::String::New(env, MiniAV_GetErrorName(code)), Napi::String::New(env, text)});
    return Napi::Error(env, err);
  }
  Napi::Error e = Napi::Error::New(env, text);
  e.Set("code", Napi::String::New(env, MiniAV_GetErrorName(code)));
  return e;
}

// Throws a MiniAVError for a failed C call, with the C core's own explanation.
void Check(Napi::Env env, MiniAVResultCode r) {
  if (r != MINIAV_SUCCESS) throw MakeError(env, r, MiniAV_GetLastErrorMessage());
}

MiniAVDeviceType TypeArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) throw MakeError(info.Env(), MINIAV_ERROR_INVALID_ARG, "device type expected");
  int32_t t = info[i].As<Napi::Number>().Int32Value();
  if (t < 0 || t >= MINIAV_DEVICE_TYPE_COUNT) throw MakeError(info.Env(), MINIAV_ERROR_INVALID_ARG, "unknown device type");
  return static_cast<MiniAVDeviceType>(t);
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw MakeError(info.Env(), MINIAV_ERROR_INVALID_ARG, std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

uint32_t U32(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) return 0;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 4294967295.0) return 0xFFFFFFFFu;  // rejected by the core with a clear message
  return static_cast<uint32_t>(d);
}

Napi::Object DeviceToJs(Napi::Env env, const MiniAVDeviceInfo& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", d.device_id);
  o.Set("name", d.name);
  o.Set("backend", d.backend);
  o.Set("isDefault", d.is_default != 0);
  o.Set("type", static_cast<int>(d.type));
  if (d.width || d.height) {
    o.Set("x", d.x);
    o.Set("y", d.y);
    o.Set("width", d.width);
    o.Set("height", d.height);
  }
  if (d.process_id) o.Set("processId", d.process_id);
  if (d.class_name[0]) o.Set("className", d.class_name);
  return o;
}

Napi::Object VideoFormatToJs(Napi::Env env, const MiniAVVideoFormatInfo& f) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("width", f.width);
  o.Set("height", f.height);
  o.Set("pixelFormat", MiniAV_PixelFormatName(f.pixel_format));
  Napi::Object rate = Napi::Object::New(env);
  rate.Set("num", f.frame_rate_numerator);
  rate.Set("den", f.frame_rate_denominator);
  o.Set("frameRate", rate);
  o.Set("output", f.output_preference == MINIAV_OUTPUT_PREFERENCE_GPU ? "gpu" : "cpu");
  if (f.fourcc) o.Set("fourcc", f.fourcc);  // the TS layer turns it into text
  return o;
}

// A fixed-size C string field, NUL-terminated or not.
template <size_t N>
Napi::String FieldToJs(Napi::Env env, const char (&field)[N]) {
  return Napi::String::New(env, field, strnlen(field, N));
}

const char* PropertyTypeName(MiniAVPropertyType t) {
  switch (t) {
    case MINIAV_PROPERTY_TYPE_BOOLEAN: return "boolean";
    case MINIAV_PROPERTY_TYPE_MENU: return "menu";
    case MINIAV_PROPERTY_TYPE_BUTTON: return "button";
    default: return "integer";
  }
}

// int64 values become numbers: beyond 2^53 they are rounded (documented in CameraProperty).
Napi::Object PropertyToJs(Napi::Env env, const MiniAVCameraProperty& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", FieldToJs(env, p.name));
  o.Set("label", FieldToJs(env, p.label));
  o.Set("type", PropertyTypeName(p.type));
  o.Set("min", static_cast<double>(p.min));
  o.Set("max", static_cast<double>(p.max));
  o.Set("step", static_cast<double>(p.step));
  o.Set("default", static_cast<double>(p.default_value));
  o.Set("value", static_cast<double>(p.value));
  o.Set("hasAuto", p.has_auto != 0);
  o.Set("auto", p.is_auto != 0);
  o.Set("readOnly", p.read_only != 0);
  o.Set("inactive", p.inactive != 0);
  if (p.type == MINIAV_PROPERTY_TYPE_MENU) {
    uint32_t n = std::min<uint32_t>(p.menu_count, MINIAV_PROPERTY_MAX_MENU);
    Napi::Array menu = Napi::Array::New(env, n);
    for (uint32_t i = 0; i < n; i++) {
      Napi::Object item = Napi::Object::New(env);
      item.Set("value", static_cast<double>(p.menu[i].value));
      item.Set("name", FieldToJs(env, p.menu[i].name));
      menu.Set(i, item);
    }
    o.Set("menu", menu);
  }
  return o;
}

const char* ContentTypeName(MiniAVBufferContentType t) {
  switch (t) {
    case MINIAV_BUFFER_CONTENT_TYPE_GPU_DMABUF_FD: return "gpu-dmabuf";
    case MINIAV_BUFFER_CONTENT_TYPE_GPU_D3D11_HANDLE: return "gpu-d3d11";
    case MINIAV_BUFFER_CONTENT_TYPE_GPU_METAL_TEXTURE: return "gpu-metal";
    default: return "cpu";
  }
}

Napi::Object AudioFormatToJs(Napi::Env env, const MiniAVAudioInfo& f) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("sampleRate", f.sample_rate);
  o.Set("channels", f.channel_count);
  o.Set("sampleFormat", MiniAV_AudioFormatName(f.format));
  o.Set("bufferFrames", f.buffer_frames);
  return o;
}

// ------------------------------------------------------------------ module functions

Napi::Value Init(const Napi::CallbackInfo& info) {
  auto* data = info.Env().GetInstanceData<AddonData>();
  if (info.Length() > 0 && info[0].IsFunction()) data->error_class = Napi::Persistent(info[0].As<Napi::Function>());
  data->force_copy = info.Length() > 1 && info[1].ToBoolean().Value();
  return info.Env().Undefined();
}

Napi::Value GetVersion(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), MiniAV_GetVersionString()); }

Napi::Value Now(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(MiniAV_GetTimeUs())); }

Napi::Value SetLogLevel(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw MakeError(info.Env(), MINIAV_ERROR_INVALID_ARG, "log level must be a number");
  Check(info.Env(), MiniAV_SetLogLevel(static_cast<MiniAVLogLevel>(info[0].As<Napi::Number>().Int32Value())));
  return info.Env().Undefined();
}

// Log messages come from any thread; one thread-safe function forwards them to the
// JS thread of the environment that subscribed last.
std::mutex g_log_lock;
Napi::ThreadSafeFunction g_log_tsfn;
napi_env g_log_env = nullptr;

struct LogMessage {
  int level;
  std::string text;
};

void OnLog(MiniAVLogLevel level, const char* message, void*) {
  std::lock_guard<std::mutex> lock(g_log_lock);
  if (!g_log_tsfn) return;
  auto* msg = new LogMessage{static_cast<int>(level), message};
  napi_status s = g_log_tsfn.NonBlockingCall(msg, [](Napi::Env env, Napi::Function fn, LogMessage* m) {
    if (env != nullptr) fn.Call({Napi::Number::New(env, m->level), Napi::String::New(env, m->text)});
    delete m;
  });
  if (s != napi_ok) delete msg;
}

void ClearLogSink() {
  std::lock_guard<std::mutex> lock(g_log_lock);
  MiniAV_SetLogCallback(nullptr, nullptr);
  if (g_log_tsfn) g_log_tsfn.Release();
  g_log_tsfn = Napi::ThreadSafeFunction();
  g_log_env = nullptr;
}

void LogEnvCleanup(void* env) {
  bool mine;
  {
    std::lock_guard<std::mutex> lock(g_log_lock);
    mine = g_log_env == env;
  }
  if (mine) ClearLogSink();
}

Napi::Value SetLogCallback(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  napi_env previous;
  {
    std::lock_guard<std::mutex> lock(g_log_lock);
    previous = g_log_env;
  }
  if (previous) {
    napi_remove_env_cleanup_hook(previous, LogEnvCleanup, previous);
    ClearLogSink();
  }
  if (info.Length() > 0 && info[0].IsFunction()) {
    std::lock_guard<std::mutex> lock(g_log_lock);
    g_log_tsfn = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "miniav-log", 0, 1);
    g_log_tsfn.Unref(env);  // logging alone must not keep the process alive
    g_log_env = env;
    napi_add_env_cleanup_hook(env, LogEnvCleanup, env);
    MiniAV_SetLogCallback(OnLog, nullptr);
  }
  return env.Undefined();
}

Napi::Value Enumerate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MiniAVDeviceType type = TypeArg(info, 0);
  int32_t extra = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
  MiniAVDeviceInfo* list = nullptr;
  uint32_t count = 0;
  MiniAVResultCode r;
  switch (type) {
    case MINIAV_DEVICE_TYPE_CAMERA: r = MiniAV_Camera_EnumerateDevices(&list, &count); break;
    case MINIAV_DEVICE_TYPE_SCREEN:
      r = extra ? MiniAV_Screen_EnumerateWindows(&list, &count) : MiniAV_Screen_EnumerateDisplays(&list, &count);
      break;
    case MINIAV_DEVICE_TYPE_AUDIO: r = MiniAV_Audio_EnumerateDevices(&list, &count); break;
    default: r = MiniAV_Loopback_EnumerateTargets(static_cast<MiniAVLoopbackTargetType>(extra), &list, &count); break;
  }
  Check(env, r);
  Napi::Array out = Napi::Array::New(env, count);
  for (uint32_t i = 0; i < count; i++) out.Set(i, DeviceToJs(env, list[i]));
  MiniAV_FreeDeviceList(list, count);
  return out;
}

Napi::Value Formats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MiniAVDeviceType type = TypeArg(info, 0);
  std::string id = StringArg(info, 1, "device id");
  uint32_t count = 0;
  Napi::Array out;
  if (type == MINIAV_DEVICE_TYPE_CAMERA || type == MINIAV_DEVICE_TYPE_SCREEN) {
    MiniAVVideoFormatInfo* list = nullptr;
    Check(env, type == MINIAV_DEVICE_TYPE_CAMERA ? MiniAV_Camera_GetSupportedFormats(id.c_str(), &list, &count)
                                                 : MiniAV_Screen_GetSupportedFormats(id.c_str(), &list, &count));
    out = Napi::Array::New(env, count);
    for (uint32_t i = 0; i < count; i++) out.Set(i, VideoFormatToJs(env, list[i]));
    MiniAV_FreeFormatList(list, count);
  } else {
    MiniAVAudioInfo* list = nullptr;
    Check(env, type == MINIAV_DEVICE_TYPE_AUDIO ? MiniAV_Audio_GetSupportedFormats(id.c_str(), &list, &count)
                                                : MiniAV_Loopback_GetSupportedFormats(id.c_str(), &list, &count));
    out = Napi::Array::New(env, count);
    for (uint32_t i = 0; i < count; i++) out.Set(i, AudioFormatToJs(env, list[i]));
    MiniAV_FreeFormatList(list, count);
  }
  return out;
}

// The loopback target id of a process (MiniAV_Loopback_GetTargetId): the one resolution
// shared with the C API's ConfigureWithTargetInfo.
Napi::Value ProcessTargetId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MiniAVLoopbackTargetInfo target{};
  target.type = MINIAV_LOOPBACK_TARGET_PROCESS;
  target.TARGETHANDLE.process_id = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
  char id[256];
  Check(env, MiniAV_Loopback_GetTargetId(&target, id, sizeof id));
  return Napi::String::New(env, id);
}

Napi::Value SetBackend(const Napi::CallbackInfo& info) {
  MiniAVDeviceType type = TypeArg(info, 0);
  std::string name = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  Check(info.Env(), MiniAV_SetBackend(type, name.empty() ? nullptr : name.c_str()));
  return info.Env().Undefined();
}

Napi::Value BackendNames(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), MiniAV_GetBackendNames(TypeArg(info, 0)));
}

// ------------------------------------------------------------------ streams

class NativeStream;
struct Life {
  NativeStream* self;
};

struct StreamEvent {
  MiniAVStreamEventType type;
  MiniAVResultCode result;
  std::string message;
};

class NativeStream : public Napi::ObjectWrap<NativeStream> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeStream",
                       {
                           InstanceMethod("configure", &NativeStream::Configure),
                           InstanceMethod("setOptions", &NativeStream::SetOptions),
                           InstanceMethod("setScreenOptions", &NativeStream::SetScreenOptions),
                           InstanceMethod("restoreToken", &NativeStream::RestoreToken),
                           InstanceMethod("setScreenAudio", &NativeStream::SetScreenAudio),
                           InstanceMethod("start", &NativeStream::Start),
                           InstanceMethod("stop", &NativeStream::Stop),
                           InstanceMethod("drainNow", &NativeStream::DrainNow),
                           InstanceMethod("close", &NativeStream::Close),
                           InstanceMethod("stats", &NativeStream::Stats),
                           InstanceMethod("setIntrinsics", &NativeStream::SetIntrinsics),
                           InstanceMethod("backend", &NativeStream::Backend),
                           InstanceMethod("listProperties", &NativeStream::ListProperties),
                           InstanceMethod("getProperty", &NativeStream::GetProperty),
                           InstanceMethod("setProperty", &NativeStream::SetProperty),
                           InstanceMethod("setPropertyAuto", &NativeStream::SetPropertyAuto),
                       });
  }

  explicit NativeStream(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeStream>(info) {
    Napi::Env env = info.Env();
    type_ = TypeArg(info, 0);
    MiniAVResultCode r;
    switch (type_) {
      case MINIAV_DEVICE_TYPE_CAMERA: r = MiniAV_Camera_CreateContext(reinterpret_cast<MiniAVCameraContextHandle*>(&ctx_)); break;
      case MINIAV_DEVICE_TYPE_SCREEN: r = MiniAV_Screen_CreateContext(reinterpret_cast<MiniAVScreenContextHandle*>(&ctx_)); break;
      case MINIAV_DEVICE_TYPE_AUDIO: r = MiniAV_Audio_CreateContext(reinterpret_cast<MiniAVAudioContextHandle*>(&ctx_)); break;
      default: r = MiniAV_Loopback_CreateContext(reinterpret_cast<MiniAVLoopbackContextHandle*>(&ctx_)); break;
    }
    Check(env, r);
    force_copy_ = env.GetInstanceData<AddonData>()->force_copy;
    env_ = env;
    napi_add_env_cleanup_hook(env, &NativeStream::EnvCleanup, this);
  }

  ~NativeStream() override {
    life_->self = nullptr;
    Shutdown();
  }

 private:
  // configure(target: { id, kind?: 'display'|'window'|'region', x, y, width, height }, format)
  Napi::Value Configure(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject())
      throw MakeError(env, MINIAV_ERROR_INVALID_ARG, "configure(target, format) expects two objects");
    Napi::Object target = info[0].As<Napi::Object>();
    Napi::Object fmt = info[1].As<Napi::Object>();
    Napi::Value idv = target.Get("id");
    if (!idv.IsString()) throw MakeError(env, MINIAV_ERROR_INVALID_ARG, "device id must be a string");
    std::string id = idv.As<Napi::String>().Utf8Value();
    Napi::Object result;
    if (type_ == MINIAV_DEVICE_TYPE_CAMERA || type_ == MINIAV_DEVICE_TYPE_SCREEN) {
      MiniAVVideoFormatInfo f{};
      f.width = U32(fmt, "width");
      f.height = U32(fmt, "height");
      f.pixel_format = static_cast<MiniAVPixelFormat>(U32(fmt, "pixelFormat"));
      f.frame_rate_numerator = U32(fmt, "frameRateNum");
      f.frame_rate_denominator = U32(fmt, "frameRateDen");
      f.output_preference = U32(fmt, "output") ? MINIAV_OUTPUT_PREFERENCE_GPU : MINIAV_OUTPUT_PREFERENCE_CPU;
      f.fourcc = U32(fmt, "fourcc");
      if (type_ == MINIAV_DEVICE_TYPE_CAMERA) {
        auto* cam = static_cast<MiniAVCameraContextHandle>(ctx_);
        Check(env, MiniAV_Camera_Configure(cam, id.c_str(), &f));
        Check(env, MiniAV_Camera_GetConfiguredFormat(cam, &f));
      } else {
        auto* scr = static_cast<MiniAVScreenContextHandle>(ctx_);
        std::string kind = target.Get("kind").IsString() ? target.Get("kind").As<Napi::String>().Utf8Value() : "display";
        if (kind == "window") {
          Check(env, MiniAV_Screen_ConfigureWindow(scr, id.c_str(), &f));
        } else if (kind == "region") {
          auto num = [&](const char* k) {
            Napi::Value v = target.Get(k);
            return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0;
          };
          Check(env, MiniAV_Screen_ConfigureRegion(scr, id.c_str(), num("x"), num("y"), num("width"), num("height"), &f));
        } else {
          Check(env, MiniAV_Screen_ConfigureDisplay(scr, id.c_str(), &f));
        }
        Check(env, MiniAV_Screen_GetConfiguredFormat(scr, &f));
      }
      result = VideoFormatToJs(env, f);
    } else {
      MiniAVAudioInfo f{};
      f.sample_rate = U32(fmt, "sampleRate");
      f.channel_count = U32(fmt, "channels");
      f.format = static_cast<MiniAVAudioFormat>(U32(fmt, "sampleFormat"));
      f.buffer_frames = U32(fmt, "bufferFrames");
      if (type_ == MINIAV_DEVICE_TYPE_AUDIO) {
        auto* a = static_cast<MiniAVAudioContextHandle>(ctx_);
        Check(env, MiniAV_Audio_Configure(a, id.c_str(), &f));
        Check(env, MiniAV_Audio_GetConfiguredFormat(a, &f));
      } else {
        auto* l = static_cast<MiniAVLoopbackContextHandle>(ctx_);
        Check(env, MiniAV_Loopback_Configure(l, id.c_str(), &f));
        Check(env, MiniAV_Loopback_GetConfiguredFormat(l, &f));
      }
      result = AudioFormatToJs(env, f);
    }
    return result;
  }

  // setOptions({ poolSize, dropPolicy: 0|1, maxQueued, audioMaxQueued?, backend? }):
  // audioMaxQueued limits the audio buffers waiting in the queue (a screen stream carries
  // both), maxQueued the video frames.
  Napi::Value SetOptions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (info.Length() < 1 || !info[0].IsObject()) throw MakeError(env, MINIAV_ERROR_INVALID_ARG, "options object expected");
    Napi::Object o = info[0].As<Napi::Object>();
    MiniAVStreamOptions opt{};
    opt.pool_size = U32(o, "poolSize");
    opt.drop_policy = static_cast<MiniAVDropPolicy>(U32(o, "dropPolicy"));
    if (o.Get("backend").IsString()) {
      std::string name = o.Get("backend").As<Napi::String>().Utf8Value();
      if (name.size() >= sizeof opt.backend) throw MakeError(env, MINIAV_ERROR_INVALID_ARG, "backend name '" + name + "' is too long");
      std::memcpy(opt.backend, name.c_str(), name.size() + 1);
    }
    Check(env, MiniAV_Stream_SetOptions(ctx_, &opt));
    drop_oldest_ = opt.drop_policy == MINIAV_DROP_OLDEST;
    uint32_t q = U32(o, "maxQueued");
    if (q) max_queued_ = q;
    uint32_t qa = U32(o, "audioMaxQueued");
    if (qa) max_queued_audio_ = qa;
    return env.Undefined();
  }

  // setScreenAudio({ sampleRate, channels, sampleFormat, bufferFrames } | null): the
  // system mix joins the screen stream at start (same callback, same clock).
  Napi::Value SetScreenAudio(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (type_ != MINIAV_DEVICE_TYPE_SCREEN) throw MakeError(env, MINIAV_ERROR_NOT_SUPPORTED, "screen audio belongs to screen streams");
    screen_audio_ = info.Length() > 0 && info[0].IsObject();
    if (screen_audio_) {
      Napi::Object o = info[0].As<Napi::Object>();
      screen_audio_format_ = MiniAVAudioInfo{U32(o, "sampleRate"), U32(o, "channels"), static_cast<MiniAVAudioFormat>(U32(o, "sampleFormat")),
                                             U32(o, "bufferFrames")};
    }
    return env.Undefined();
  }

  // setScreenOptions({ cursor: 0 none | 1 composite | 2 metadata, skipUnchanged: boolean, restoreToken?: string })
  Napi::Value SetScreenOptions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (type_ != MINIAV_DEVICE_TYPE_SCREEN) throw MakeError(env, MINIAV_ERROR_NOT_SUPPORTED, "screen options belong to screen streams");
    if (info.Length() < 1 || !info[0].IsObject()) throw MakeError(env, MINIAV_ERROR_INVALID_ARG, "options object expected");
    Napi::Object o = info[0].As<Napi::Object>();
    MiniAVScreenOptions opt{};
    opt.cursor = static_cast<MiniAVCursorMode>(U32(o, "cursor"));
    opt.skip_unchanged = o.Get("skipUnchanged").ToBoolean().Value() ? 1 : 0;
    if (o.Get("restoreToken").IsString()) {
      std::string token = o.Get("restoreToken").As<Napi::String>().Utf8Value();
      if (token.size() >= sizeof opt.restore_token)
        throw MakeError(env, MINIAV_ERROR_INVALID_ARG, "restoreToken is longer than a portal token can be");
      memcpy(opt.restore_token, token.c_str(), token.size() + 1);
    }
    Check(env, MiniAV_Screen_SetOptions(static_cast<MiniAVScreenContextHandle>(ctx_), &opt));
    return env.Undefined();
  }

  // restoreToken() -> string: the portal's token for this screen stream ("" when none)
  Napi::Value RestoreToken(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (type_ != MINIAV_DEVICE_TYPE_SCREEN) return Napi::String::New(env, "");
    char token[256] = "";
    if (MiniAV_Screen_GetRestoreToken(static_cast<MiniAVScreenContextHandle>(ctx_), token, sizeof token) != MINIAV_SUCCESS) token[0] = 0;
    return Napi::String::New(env, token);
  }

  // start(onFrame(frameDescriptor), onEvent(type, codeName, message), scheduleDrain())
  // scheduleDrain must arrange a later drainNow() call (setImmediate).
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (running_) throw MakeError(env, MINIAV_ERROR_ALREADY_RUNNING, "the stream is already started");
    if (info.Length() < 3 || !info[0].IsFunction() || !info[1].IsFunction() || !info[2].IsFunction())
      throw MakeError(env, MINIAV_ERROR_INVALID_ARG, "start(onFrame, onEvent, scheduleDrain) expects three functions");
    on_frame_ = Napi::Persistent(info[0].As<Napi::Function>());
    on_event_ = Napi::Persistent(info[1].As<Napi::Function>());
    on_more_ = Napi::Persistent(info[2].As<Napi::Function>());
    poke_pending_ = false;
    // The context keeps this object alive while frames can still arrive.
    Ref();
    // The finalizer may run after this object (at environment teardown): it goes
    // through `life_`, which the destructor clears.
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "miniav-frames", 0, 1,
                                          new std::shared_ptr<Life>(life_), [](Napi::Env, std::shared_ptr<Life>* life) {
                                            if ((*life)->self) (*life)->self->Unref();
                                            delete life;
                                          });
    MiniAV_Stream_SetEventCallback(ctx_, &NativeStream::OnEvent, this);
    MiniAVResultCode r;
    switch (type_) {
      case MINIAV_DEVICE_TYPE_CAMERA: r = MiniAV_Camera_StartCapture(static_cast<MiniAVCameraContextHandle>(ctx_), OnBuffer, this); break;
      case MINIAV_DEVICE_TYPE_SCREEN:
        r = MiniAV_Screen_StartCapture(static_cast<MiniAVScreenContextHandle>(ctx_), OnBuffer, this,
                                       screen_audio_ ? &screen_audio_format_ : nullptr);
        break;
      case MINIAV_DEVICE_TYPE_AUDIO: r = MiniAV_Audio_StartCapture(static_cast<MiniAVAudioContextHandle>(ctx_), OnBuffer, this); break;
      default: r = MiniAV_Loopback_StartCapture(static_cast<MiniAVLoopbackContextHandle>(ctx_), OnBuffer, this); break;
    }
    if (r != MINIAV_SUCCESS) {
      std::string msg = MiniAV_GetLastErrorMessage();
      tsfn_.Release();
      tsfn_ = Napi::ThreadSafeFunction();
      throw MakeError(env, r, msg);
    }
    running_ = true;
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopCapture();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    MiniAVStats st{};
    if (ctx_) Check(env, MiniAV_Stream_GetStats(ctx_, &st));
    else st = final_stats_;
    uint64_t queue_drops = queue_dropped_.load();
    o.Set("delivered", static_cast<double>(st.delivered - std::min<uint64_t>(st.delivered, queue_drops)));
    o.Set("dropped", static_cast<double>(st.dropped + queue_drops));
    o.Set("held", static_cast<double>(st.held));
    o.Set("copies", static_cast<double>(st.copies));
    o.Set("skipped", static_cast<double>(st.skipped));
    o.Set("poolSize", st.pool_size);
    return o;
  }

  Napi::Value SetIntrinsics(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (type_ != MINIAV_DEVICE_TYPE_CAMERA) throw MakeError(env, MINIAV_ERROR_NOT_SUPPORTED, "intrinsics belong to camera streams");
    auto* cam = static_cast<MiniAVCameraContextHandle>(ctx_);
    if (info.Length() < 1 || !info[0].IsObject()) {
      Check(env, MiniAV_Camera_SetIntrinsics(cam, nullptr));
      return env.Undefined();
    }
    Napi::Object o = info[0].As<Napi::Object>();
    MiniAVCameraIntrinsics k{};
    k.fx = o.Get("fx").ToNumber().DoubleValue();
    k.fy = o.Get("fy").ToNumber().DoubleValue();
    k.cx = o.Get("cx").ToNumber().DoubleValue();
    k.cy = o.Get("cy").ToNumber().DoubleValue();
    Napi::Value dist = o.Get("distortion");
    if (dist.IsArray() || dist.IsTypedArray()) {
      Napi::Object d = dist.As<Napi::Object>();
      for (uint32_t i = 0; i < 5; i++) {
        Napi::Value v = d.Get(i);
        k.distortion[i] = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0.0;
      }
    }
    Check(env, MiniAV_Camera_SetIntrinsics(cam, &k));
    return env.Undefined();
  }

  Napi::Value Backend(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), ctx_ ? MiniAV_Stream_GetBackendName(ctx_) : "");
  }

  // ---------------------------------------------------------------- camera properties

  MiniAVCameraContextHandle Camera(Napi::Env env) {
    RequireOpen(env);
    if (type_ != MINIAV_DEVICE_TYPE_CAMERA) throw MakeError(env, MINIAV_ERROR_NOT_SUPPORTED, "properties belong to camera streams");
    return static_cast<MiniAVCameraContextHandle>(ctx_);
  }

  // listProperties() -> [{ name, label, type, min, max, step, default, value, hasAuto, auto, readOnly, inactive, menu? }]
  Napi::Value ListProperties(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    MiniAVCameraContextHandle cam = Camera(env);
    MiniAVCameraProperty* list = nullptr;
    uint32_t count = 0;
    Check(env, MiniAV_Camera_ListProperties(cam, &list, &count));
    struct Owned {
      MiniAVCameraProperty* list;
      uint32_t count;
      ~Owned() { MiniAV_FreeFormatList(list, count); }
    } owned{list, count};  // freed also when building the JS objects throws
    Napi::Array out = Napi::Array::New(env, count);
    for (uint32_t i = 0; i < count; i++) out.Set(i, PropertyToJs(env, list[i]));
    return out;
  }

  // getProperty(name) -> { value, auto }
  Napi::Value GetProperty(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    MiniAVCameraContextHandle cam = Camera(env);
    std::string name = StringArg(info, 0, "property name");
    int64_t value = 0;
    int is_auto = 0;
    Check(env, MiniAV_Camera_GetProperty(cam, name.c_str(), &value, &is_auto));
    Napi::Object o = Napi::Object::New(env);
    o.Set("value", static_cast<double>(value));
    o.Set("auto", is_auto != 0);
    return o;
  }

  // setProperty(name, value: integer number)
  Napi::Value SetProperty(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    MiniAVCameraContextHandle cam = Camera(env);
    std::string name = StringArg(info, 0, "property name");
    if (info.Length() < 2 || !info[1].IsNumber()) throw MakeError(env, MINIAV_ERROR_INVALID_ARG, "property value must be a number");
    Check(env, MiniAV_Camera_SetProperty(cam, name.c_str(), info[1].As<Napi::Number>().Int64Value()));
    return env.Undefined();
  }

  // setPropertyAuto(name, enable: boolean)
  Napi::Value SetPropertyAuto(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    MiniAVCameraContextHandle cam = Camera(env);
    std::string name = StringArg(info, 0, "property name");
    bool enable = info.Length() > 1 && info[1].ToBoolean().Value();
    Check(env, MiniAV_Camera_SetPropertyAuto(cam, name.c_str(), enable ? 1 : 0));
    return env.Undefined();
  }

  // ---------------------------------------------------------------- capture thread side

  static void OnBuffer(const MiniAVBuffer* buffer, void* user) {
    auto* self = static_cast<NativeStream*>(user);
    const MiniAVBuffer* dropped = nullptr;
    const int kind = buffer->type == MINIAV_BUFFER_TYPE_AUDIO;  // video and audio wait apart
    {
      std::lock_guard<std::mutex> lock(self->queue_lock_);
      if (self->queued_[kind] >= (kind ? self->max_queued_audio_ : self->max_queued_)) {
        // JavaScript is behind: the policy decides which queued frame of this kind gives way.
        if (self->drop_oldest_) {
          auto oldest = std::find_if(self->queue_.begin(), self->queue_.end(),
                                     [kind](const MiniAVBuffer* b) { return (b->type == MINIAV_BUFFER_TYPE_AUDIO) == kind; });
          dropped = *oldest;
          self->queue_.erase(oldest);
          self->queue_.push_back(buffer);
        } else {
          dropped = buffer;
        }
      } else {
        self->queue_.push_back(buffer);
        self->queued_[kind]++;
      }
    }
    if (dropped) {
      self->queue_dropped_++;
      MiniAV_ReleaseBuffer(dropped->internal_handle);
    }
    self->Poke();
  }

  static void OnEvent(MiniAVStreamEventType type, MiniAVResultCode result, const char* message, void* user) {
    auto* self = static_cast<NativeStream*>(user);
    {
      std::lock_guard<std::mutex> lock(self->queue_lock_);
      self->events_.push_back(StreamEvent{type, result, message ? message : ""});
    }
    self->Poke();
  }

  // Wakes the JS thread once; until the queue is empty again the JS side keeps
  // draining by itself (see FinishDrain), so a fast source cannot flood the
  // thread-safe function's queue.
  void Poke() {
    if (poke_pending_.exchange(true)) return;
    if (tsfn_.NonBlockingCall(this, [](Napi::Env env, Napi::Function, NativeStream* self) {
          if (env != nullptr) self->Drain(env);
        }) != napi_ok)
      poke_pending_ = false;
  }

  // ---------------------------------------------------------------- JS thread side

  // Frames arrived while draining: drain again from setImmediate rather than at once,
  // so timers and I/O run between batches even when frames come faster than
  // JavaScript takes them (Node runs up to 1000 queued calls per wake-up otherwise).
  void FinishDrain() {
    bool more;
    {
      std::lock_guard<std::mutex> lock(queue_lock_);
      more = !queue_.empty() || !events_.empty();
      if (!more || on_more_.IsEmpty()) poke_pending_ = false;
    }
    if (more && !on_more_.IsEmpty()) on_more_.Call({});
  }

  Napi::Value DrainNow(const Napi::CallbackInfo& info) {
    if (running_) Drain(info.Env());
    return info.Env().Undefined();
  }

  void Drain(Napi::Env env) {
    std::deque<const MiniAVBuffer*> frames;
    std::deque<StreamEvent> events;
    {
      std::lock_guard<std::mutex> lock(queue_lock_);
      frames.swap(queue_);
      events.swap(events_);
      queued_[0] = queued_[1] = 0;
    }
    Napi::HandleScope scope(env);
    size_t next = 0;
    bool handed = false;  // frames[next] reached JavaScript (which now owns its release)
    try {
      for (; next < frames.size(); next++) {
        if (on_frame_.IsEmpty()) break;  // stopped from inside a handler
        handed = false;
        Napi::Value desc = Describe(env, frames[next]);
        handed = true;
        on_frame_.Call({desc});
      }
      for (auto& e : events) {
        if (on_event_.IsEmpty()) break;
        on_event_.Call({Napi::Number::New(env, e.type), Napi::String::New(env, MiniAV_GetErrorName(e.result)),
                        Napi::String::New(env, e.message)});
      }
    } catch (const Napi::Error& e) {
      // A throwing handler (or an environment shutting down): no buffer may leak, and
      // the error goes on to JavaScript as an uncaught exception, as from any listener.
      ReleaseFrom(frames, handed ? next + 1 : next);
      napi_throw(env, e.Value());
      poke_pending_ = false;  // no JS call with an exception pending: the next frame wakes us
      return;
    }
    ReleaseFrom(frames, next);
    FinishDrain();
  }

  static void ReleaseFrom(const std::deque<const MiniAVBuffer*>& frames, size_t first) {
    for (size_t j = first; j < frames.size(); j++) MiniAV_ReleaseBuffer(frames[j]->internal_handle);
  }

  // One ArrayBuffer over the buffer's memory (planes are views into it), or one per
  // plane when planes live in separate allocations.
  Napi::Value Describe(Napi::Env env, const MiniAVBuffer* b) {
    Napi::Object d = Napi::Object::New(env);
    uint64_t token = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(b->internal_handle));
    d.Set("handle", Napi::BigInt::New(env, token));
    d.Set("type", b->type == MINIAV_BUFFER_TYPE_VIDEO ? "video" : "audio");
    d.Set("timestampUs", static_cast<double>(b->timestamp_us));
    d.Set("sequence", static_cast<double>(b->sequence));
    bool copied = false;
    Napi::Array buffers = Napi::Array::New(env);
    auto wrap = [&](void* ptr, size_t size) -> Napi::Value {
      napi_value ab = nullptr;
      if (!force_copy_ && napi_create_external_arraybuffer(env, ptr, size, nullptr, nullptr, &ab) == napi_ok) return Napi::Value(env, ab);
      // External memory refused (Electron) or copying forced: one copy.
      Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, size);
      std::memcpy(copy.Data(), ptr, size);
      copied = true;
      return copy;
    };
    if (b->type == MINIAV_BUFFER_TYPE_VIDEO) {
      const auto& v = b->data.video;
      Napi::Object video = Napi::Object::New(env);
      video.Set("width", v.width);
      video.Set("height", v.height);
      video.Set("pixelFormat", MiniAV_PixelFormatName(v.pixel_format));
      if (v.fourcc) video.Set("fourcc", v.fourcc);
      auto* base = static_cast<uint8_t*>(v.planes[0]);
      bool contiguous = true;
      for (uint32_t p = 0; p < v.num_planes; p++) {
        auto* pp = static_cast<uint8_t*>(v.planes[p]);
        if (pp < base || pp + v.plane_size_bytes[p] > base + b->data_size_bytes) contiguous = false;
      }
      // A cursor image follows the frame in the same allocation: one buffer spans both.
      const MiniAVCursorInfo& cur = v.cursor;
      size_t cursor_bytes = cur.image ? static_cast<size_t>(cur.width) * cur.height * 4 : 0;
      size_t span = b->data_size_bytes;
      if (contiguous && cur.image && cur.image >= base) span = std::max(span, static_cast<size_t>(cur.image - base) + cursor_bytes);
      if (contiguous) buffers.Set(0u, wrap(base, span));
      Napi::Array planes = Napi::Array::New(env, v.num_planes);
      for (uint32_t p = 0; p < v.num_planes; p++) {
        Napi::Object plane = Napi::Object::New(env);
        if (contiguous) {
          plane.Set("buffer", 0);
          plane.Set("offset", static_cast<double>(static_cast<uint8_t*>(v.planes[p]) - base));
        } else {
          buffers.Set(p, wrap(v.planes[p], v.plane_size_bytes[p]));
          plane.Set("buffer", p);
          plane.Set("offset", 0);
        }
        plane.Set("size", static_cast<double>(v.plane_size_bytes[p]));
        plane.Set("stride", v.stride_bytes[p]);
        planes.Set(p, plane);
      }
      video.Set("planes", planes);
      if (cur.image && contiguous && cur.image >= base) {
        Napi::Object c = Napi::Object::New(env);
        c.Set("visible", cur.visible != 0);
        c.Set("x", cur.x);
        c.Set("y", cur.y);
        c.Set("hotX", cur.hot_x);
        c.Set("hotY", cur.hot_y);
        c.Set("width", cur.width);
        c.Set("height", cur.height);
        c.Set("serial", cur.serial);
        c.Set("imageOffset", static_cast<double>(cur.image - base));
        c.Set("imageSize", static_cast<double>(cursor_bytes));
        video.Set("cursor", c);
      }
      if (v.intrinsics.valid) {
        Napi::Object k = Napi::Object::New(env);
        k.Set("fx", v.intrinsics.fx);
        k.Set("fy", v.intrinsics.fy);
        k.Set("cx", v.intrinsics.cx);
        k.Set("cy", v.intrinsics.cy);
        Napi::Array dist = Napi::Array::New(env, 5);
        for (uint32_t i = 0; i < 5; i++) dist.Set(i, v.intrinsics.distortion[i]);
        k.Set("distortion", dist);
        video.Set("intrinsics", k);
      }
      // DMA-BUF descriptors: only while the frame is held (a copied frame is released at
      // once, and its descriptors go back to the stream with it).
      bool dmabuf = b->content_type == MINIAV_BUFFER_CONTENT_TYPE_GPU_DMABUF_FD && !copied;
      if (dmabuf) {
        const MiniAVDmaBufInfo& db = v.dmabuf;
        Napi::Object o = Napi::Object::New(env);
        o.Set("drmFormat", db.drm_fourcc);
        o.Set("modifier", Napi::BigInt::New(env, static_cast<uint64_t>(db.modifier)));
        uint32_t n = std::min<uint32_t>(db.num_planes, MINIAV_MAX_PLANES);
        Napi::Array dplanes = Napi::Array::New(env, n);
        for (uint32_t p = 0; p < n; p++) {
          Napi::Object plane = Napi::Object::New(env);
          plane.Set("fd", db.fd[p]);
          plane.Set("offset", db.offset[p]);
          plane.Set("stride", db.stride[p]);
          dplanes.Set(p, plane);
        }
        o.Set("planes", dplanes);
        video.Set("dmabuf", o);
      }
      // A D3D11 texture shared as an NT handle (Windows 'gpu' output): both stay the
      // stream's until release; DuplicateHandle the handle to keep it longer.
      if (b->content_type == MINIAV_BUFFER_CONTENT_TYPE_GPU_D3D11_HANDLE && !copied) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("sharedHandle", Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(v.native_gpu_shared_handle))));
        o.Set("texture", Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(v.native_gpu_texture_ptr))));
        video.Set("d3d11", o);
      }
      d.Set("video", video);
      d.Set("contentType", copied ? "cpu" : ContentTypeName(b->content_type));
    } else {
      const auto& a = b->data.audio;
      Napi::Object audio = Napi::Object::New(env);
      audio.Set("frameCount", a.frame_count);
      audio.Set("channels", a.channel_count);
      audio.Set("sampleRate", a.sample_rate);
      audio.Set("sampleFormat", MiniAV_AudioFormatName(a.format));
      buffers.Set(0u, wrap(a.data, b->data_size_bytes));
      d.Set("audio", audio);
      d.Set("contentType", "cpu");
    }
    d.Set("buffers", buffers);
    if (copied) {
      MiniAV_Stream_AddCopies(ctx_, 1);
      MiniAV_ReleaseBuffer(b->internal_handle);  // the copy is independent of the pool
      d.Set("handle", Napi::BigInt::New(env, static_cast<uint64_t>(0)));
      d.Set("copied", true);
    }
    return d;
  }

  void RequireOpen(Napi::Env env) {
    if (!ctx_) throw MakeError(env, MINIAV_ERROR_STREAM_CLOSED, "the stream is closed; open a new one");
  }

  void StopCapture() {
    if (!running_) return;
    running_ = false;
    switch (type_) {
      case MINIAV_DEVICE_TYPE_CAMERA: MiniAV_Camera_StopCapture(static_cast<MiniAVCameraContextHandle>(ctx_)); break;
      case MINIAV_DEVICE_TYPE_SCREEN: MiniAV_Screen_StopCapture(static_cast<MiniAVScreenContextHandle>(ctx_)); break;
      case MINIAV_DEVICE_TYPE_AUDIO: MiniAV_Audio_StopCapture(static_cast<MiniAVAudioContextHandle>(ctx_)); break;
      default: MiniAV_Loopback_StopCapture(static_cast<MiniAVLoopbackContextHandle>(ctx_)); break;
    }
    // The capture thread has stopped: frames still queued never reached JavaScript.
    std::deque<const MiniAVBuffer*> left;
    {
      std::lock_guard<std::mutex> lock(queue_lock_);
      left.swap(queue_);
      events_.clear();
      queued_[0] = queued_[1] = 0;
    }
    for (const MiniAVBuffer* b : left) {
      queue_dropped_++;
      MiniAV_ReleaseBuffer(b->internal_handle);
    }
    on_frame_.Reset();
    on_event_.Reset();
    on_more_.Reset();
    if (tsfn_) tsfn_.Release();
    tsfn_ = Napi::ThreadSafeFunction();
  }

  void Shutdown() {
    StopCapture();
    if (!ctx_) return;
    if (!env_gone_) napi_remove_env_cleanup_hook(env_, &NativeStream::EnvCleanup, this);
    MiniAV_Stream_GetStats(ctx_, &final_stats_);
    switch (type_) {
      case MINIAV_DEVICE_TYPE_CAMERA: MiniAV_Camera_DestroyContext(static_cast<MiniAVCameraContextHandle>(ctx_)); break;
      case MINIAV_DEVICE_TYPE_SCREEN: MiniAV_Screen_DestroyContext(static_cast<MiniAVScreenContextHandle>(ctx_)); break;
      case MINIAV_DEVICE_TYPE_AUDIO: MiniAV_Audio_DestroyContext(static_cast<MiniAVAudioContextHandle>(ctx_)); break;
      default: MiniAV_Loopback_DestroyContext(static_cast<MiniAVLoopbackContextHandle>(ctx_)); break;
    }
    ctx_ = nullptr;
  }

  // The environment (a worker, or the process) is going away: stop the capture thread
  // before the environment it calls into disappears, and give back the buffers its
  // JavaScript held, since nothing can read or release them any more.
  static void EnvCleanup(void* arg) {
    auto* self = static_cast<NativeStream*>(arg);
    self->env_gone_ = true;
    self->StopCapture();
    if (self->ctx_) MiniAV_Stream_ReleaseAll(self->ctx_);
    self->Shutdown();
  }

  std::shared_ptr<Life> life_ = std::make_shared<Life>(Life{this});
  MiniAVDeviceType type_;
  void* ctx_ = nullptr;
  napi_env env_ = nullptr;
  bool running_ = false;
  bool env_gone_ = false;
  bool force_copy_ = false;
  bool drop_oldest_ = false;
  bool screen_audio_ = false;
  MiniAVAudioInfo screen_audio_format_{};
  size_t max_queued_ = 2;         // video frames waiting for JavaScript
  size_t max_queued_audio_ = 32;  // audio buffers waiting for JavaScript (see options.ts)
  size_t queued_[2] = {0, 0};     // in queue_: video, audio
  MiniAVStats final_stats_{};
  Napi::FunctionReference on_frame_, on_event_, on_more_;
  Napi::ThreadSafeFunction tsfn_;
  std::mutex queue_lock_;
  std::deque<const MiniAVBuffer*> queue_;
  std::deque<StreamEvent> events_;
  std::atomic<bool> poke_pending_{false};
  std::atomic<uint64_t> queue_dropped_{0};
};

// watchDevices(type, intervalMs, callback(event: 'added' | 'removed', device)) -> {
// close() }. Device events come on a library thread and go to JavaScript through a
// thread-safe function that does not keep the process alive.
struct DeviceEventData {
  MiniAVDeviceEvent event;
  MiniAVDeviceInfo device;
};

class DeviceWatch : public Napi::ObjectWrap<DeviceWatch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DeviceWatch", {InstanceMethod("close", &DeviceWatch::Close)});
  }

  explicit DeviceWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceWatch>(info) {
    Napi::Env env = info.Env();
    MiniAVDeviceType type = TypeArg(info, 0);
    uint32_t interval = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
    if (info.Length() < 3 || !info[2].IsFunction()) throw MakeError(env, MINIAV_ERROR_INVALID_ARG, "a listener function is needed");
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "miniav-devices", 0, 1);
    tsfn_.Unref(env);
    MiniAVResultCode r = MiniAV_WatchDevices(type, interval, &DeviceWatch::OnDevice, this, &watch_);
    if (r != MINIAV_SUCCESS) {
      std::string msg = MiniAV_GetLastErrorMessage();
      tsfn_.Release();
      throw MakeError(env, r, msg);
    }
    env_ = env;
    napi_add_env_cleanup_hook(env, &DeviceWatch::EnvCleanup, this);
  }

  ~DeviceWatch() override { Stop(); }

 private:
  static void OnDevice(MiniAVDeviceEvent event, const MiniAVDeviceInfo* device, void* user) {
    auto* self = static_cast<DeviceWatch*>(user);
    auto* data = new DeviceEventData{event, *device};
    if (self->tsfn_.NonBlockingCall(data, [](Napi::Env env, Napi::Function fn, DeviceEventData* d) {
          if (env != nullptr) fn.Call({Napi::String::New(env, d->event == MINIAV_DEVICE_ADDED ? "added" : "removed"), DeviceToJs(env, d->device)});
          delete d;
        }) != napi_ok)
      delete data;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  void Stop() {
    if (!watch_) return;
    MiniAV_UnwatchDevices(watch_);  // joins: no OnDevice after this
    watch_ = nullptr;
    tsfn_.Release();
    if (!env_gone_) napi_remove_env_cleanup_hook(env_, &DeviceWatch::EnvCleanup, this);
  }

  static void EnvCleanup(void* arg) {
    auto* self = static_cast<DeviceWatch*>(arg);
    self->env_gone_ = true;
    self->Stop();
  }

  MiniAVDeviceWatchHandle watch_ = nullptr;
  Napi::ThreadSafeFunction tsfn_;
  napi_env env_ = nullptr;
  bool env_gone_ = false;
};

// releaseBuffer(handle: bigint, buffers: ArrayBuffer[]): detaches the views, then
// hands the buffer back. Works after the stream is closed.
Napi::Value ReleaseBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 1 && info[1].IsArray()) {
    Napi::Array abs = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < abs.Length(); i++) {
      Napi::Value v = abs.Get(i);
      if (v.IsArrayBuffer() && v.As<Napi::ArrayBuffer>().ByteLength() > 0) napi_detach_arraybuffer(env, v);
    }
  }
  if (info.Length() > 0 && info[0].IsBigInt()) {
    bool lossless;
    uint64_t token = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
    if (token) MiniAV_ReleaseBuffer(reinterpret_cast<void*>(static_cast<uintptr_t>(token)));
  }
  return env.Undefined();
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  data->stream_ctor = Napi::Persistent(NativeStream::Define(env));
  exports.Set("NativeStream", data->stream_ctor.Value());
  data->watch_ctor = Napi::Persistent(DeviceWatch::Define(env));
  exports.Set("DeviceWatch", data->watch_ctor.Value());
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("getVersion", Napi::Function::New(env, GetVersion));
  exports.Set("now", Napi::Function::New(env, Now));
  exports.Set("setLogLevel", Napi::Function::New(env, SetLogLevel));
  exports.Set("setLogCallback", Napi::Function::New(env, SetLogCallback));
  exports.Set("enumerate", Napi::Function::New(env, Enumerate));
  exports.Set("formats", Napi::Function::New(env, Formats));
  exports.Set("processTargetId", Napi::Function::New(env, ProcessTargetId));
  exports.Set("setBackend", Napi::Function::New(env, SetBackend));
  exports.Set("backendNames", Napi::Function::New(env, BackendNames));
  exports.Set("releaseBuffer", Napi::Function::New(env, ReleaseBuffer));
  return exports;
}

}  // namespace

NODE_API_MODULE(miniav, InitModule)
