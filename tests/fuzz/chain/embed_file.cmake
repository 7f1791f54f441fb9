# cmake -DIN=file -DOUT=header.h -DNAME=symbol -P embed_file.cmake
# Writes a C header with `static const unsigned char NAME[]` holding IN's
# bytes (its size is sizeof NAME), for fuzz targets that must carry a file with them.
file(READ "${IN}" hex HEX)
# 16 bytes a line (32 hex digits), then each byte as 0xNN.
string(REGEX REPLACE "(................................)" "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," arr "${hex}")
get_filename_component(base "${IN}" NAME)
file(WRITE "${OUT}.tmp"
  "/* Generated from ${base} by tests/fuzz/chain/embed_file.cmake; do not edit. */\n"
  "static const unsigned char ${NAME}[] = {\n${arr}\n};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
