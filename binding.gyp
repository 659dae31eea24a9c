{
  "targets": [
    {
      "target_name": "ghostunnel_engine",
      "sources": ["native/module.cc", "native/context.cc", "native/connection.cc", "native/callbacks.cc", "native/verify.cc", "native/question.cc", "native/syscalls.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
