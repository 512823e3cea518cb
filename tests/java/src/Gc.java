import java.lang.ref.WeakReference;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * Allocates a few hundred MiB in short-lived and retained objects, calls
 * System.gc() and checks that a weakly reachable object went away while the
 * retained ones are intact. Prints only facts that do not depend on timing.
 */
public final class Gc {
    public static void main(String[] args) {
        List<long[]> kept = new ArrayList<>();
        long checksum = 0;
        for (int i = 0; i < 20_000; i++) {
            long[] a = new long[1024 + (i % 7) * 128];
            a[0] = i;
            a[a.length - 1] = (long) i * i;
            checksum += a[0] + a[a.length - 1];
            if (i % 100 == 0) {
                kept.add(a);
            }
        }
        Object weak = new byte[1 << 20];
        WeakReference<Object> ref = new WeakReference<>(weak);
        weak = null;
        long collectionsBefore = collections();
        System.gc();
        System.gc();
        long sum = 0;
        for (long[] a : kept) {
            sum += a[0] + a[a.length - 1];
        }
        System.out.println("checksum=" + checksum + " kept=" + kept.size() + " kept sum=" + sum);
        System.out.println("weak cleared=" + (ref.get() == null));
        System.out.println("collected=" + (collections() > collectionsBefore));
        Runtime rt = Runtime.getRuntime();
        System.out.println("heap sane=" + (rt.totalMemory() >= rt.freeMemory()));
    }

    static long collections() {
        long n = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            n += gc.getCollectionCount();
        }
        return n;
    }
}
