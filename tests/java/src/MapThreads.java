import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.LongAdder;

/**
 * 32 threads share one ConcurrentHashMap: each merges counts into shared keys and
 * puts keys of its own, started together by a latch. The final contents do not
 * depend on the interleaving, so the printed sums are the same on every run.
 */
public final class MapThreads {
    static final int THREADS = 32;
    static final int ROUNDS = 20_000;
    static final int SHARED_KEYS = 97;

    public static void main(String[] args) throws Exception {
        ConcurrentHashMap<Integer, Long> map = new ConcurrentHashMap<>();
        LongAdder adds = new LongAdder();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            final int id = t;
            Thread th = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
                for (int i = 0; i < ROUNDS; i++) {
                    map.merge(i % SHARED_KEYS, (long) (id + 1), Long::sum);
                    map.putIfAbsent(1_000_000 + id * ROUNDS + i, (long) i);
                    adds.increment();
                }
                // Half the private keys go again, concurrently with the others' puts.
                for (int i = 0; i < ROUNDS; i += 2) {
                    map.remove(1_000_000 + id * ROUNDS + i);
                }
            }, "worker-" + t);
            threads.add(th);
            th.start();
        }
        start.countDown();
        for (Thread th : threads) {
            th.join();
        }
        long shared = 0;
        long priv = 0;
        Map<Integer, Long> firstKeys = new TreeMap<>();
        for (Map.Entry<Integer, Long> e : map.entrySet()) {
            if (e.getKey() < 1_000_000) {
                shared += e.getValue();
                if (e.getKey() < 5) {
                    firstKeys.put(e.getKey(), e.getValue());
                }
            } else {
                priv += e.getValue();
            }
        }
        System.out.println("threads=" + THREADS + " operations=" + adds.sum());
        System.out.println("size=" + map.size());
        System.out.println("shared sum=" + shared + " private sum=" + priv);
        System.out.println("first keys=" + firstKeys);
        System.out.println("parallel reduce=" + map.reduceValuesToLong(4, Long::longValue, 0L, Long::sum));
    }
}
