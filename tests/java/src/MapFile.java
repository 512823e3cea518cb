import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Writes a 64 MiB file of a fixed pseudo-random sequence into the current
 * directory, maps it READ_ONLY with FileChannel.map and hashes the mapping
 * (SHA-256), then hashes it again through read(2) so the two paths agree.
 */
public final class MapFile {
    static final int SIZE = 64 << 20;

    public static void main(String[] args) throws Exception {
        Path path = Path.of("data.bin");
        write(path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            System.out.println("size=" + ch.size());
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
            System.out.println("readOnly=" + map.isReadOnly() + " capacity=" + map.capacity());
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(map);
            System.out.println("mapped sha256=" + HexFormat.of().formatHex(md.digest()));
            long sum = 0;
            for (int i = 0; i < SIZE; i += 4096) {
                sum += map.get(i) & 0xff;
            }
            System.out.println("byte per page sum=" + sum + " last int=" + map.getInt(SIZE - 4));
            MappedByteBuffer tail = ch.map(FileChannel.MapMode.READ_ONLY, SIZE - 8192, 8192);
            System.out.println("tail first long=" + Long.toHexString(tail.getLong(0)));
            try {
                map.put(0, (byte) 1);
                System.out.println("put: no exception");
            } catch (java.nio.ReadOnlyBufferException e) {
                System.out.println("put: " + e.getClass().getSimpleName());
            }
        }
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(Files.readAllBytes(path));
        System.out.println("read sha256=" + HexFormat.of().formatHex(md.digest()));
    }

    // xorshift64 from a fixed seed, written in 1 MiB chunks.
    static void write(Path path) throws IOException {
        long x = 0x9E3779B97F4A7C15L;
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE)) {
            for (int chunk = 0; chunk < SIZE / buf.capacity(); chunk++) {
                buf.clear();
                while (buf.hasRemaining()) {
                    x ^= x << 13;
                    x ^= x >>> 7;
                    x ^= x << 17;
                    buf.putLong(x);
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            }
        }
    }
}
