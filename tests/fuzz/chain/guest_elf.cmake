# cohort_fuzz_guest_elf(TARGET): let TARGET #include "fuzz_guest_elf.h", the
# sha256 guest built by vm_guests (stripped of its debug sections when the
# RISC-V objcopy is there: ~20 KiB instead of ~110 KiB) as a C array, so the
# fuzz binary and its corpus replay carry their program with them. Used by
# the libFuzzer build (tests/fuzz/chain) and the replay build (tests/).
include_guard(GLOBAL)

function(cohort_fuzz_guest_elf target)
  set(dir ${CMAKE_BINARY_DIR}/tests/fuzz/gen)
  set(hdr ${dir}/fuzz_guest_elf.h)
  if(NOT TARGET fuzz_guest_elf)
    set(elf ${COHORT_GUEST_DIR}/sha256.elf)
    string(REGEX REPLACE "gcc$" "objcopy" objcopy "${COHORT_RISCV_GCC}")
    if(EXISTS "${objcopy}")
      set(strip COMMAND ${objcopy} --strip-all ${elf} ${dir}/sha256.stripped.elf)
      set(src ${dir}/sha256.stripped.elf)
    else()
      set(strip COMMAND ${CMAKE_COMMAND} -E copy ${elf} ${dir}/sha256.stripped.elf)
      set(src ${dir}/sha256.stripped.elf)
    endif()
    add_custom_command(
      OUTPUT ${hdr}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
      ${strip}
      COMMAND ${CMAKE_COMMAND} -DIN=${src} -DOUT=${hdr} -DNAME=fuzz_guest_elf
              -P ${CMAKE_SOURCE_DIR}/tests/fuzz/chain/embed_file.cmake
      DEPENDS ${elf} ${CMAKE_SOURCE_DIR}/tests/fuzz/chain/embed_file.cmake
      COMMENT "embed sha256.elf for fuzz_market" VERBATIM)
    add_custom_target(fuzz_guest_elf DEPENDS ${hdr})
    add_dependencies(fuzz_guest_elf vm_guests)
  endif()
  add_dependencies(${target} fuzz_guest_elf)
  target_include_directories(${target} PRIVATE ${dir})
endfunction()
