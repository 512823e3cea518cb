package app;

import app.geom.Rect;
import app.geom.Shape;
import java.util.ArrayList;
import java.util.List;

/** The multi-file program of java.javac_multi: three classes in two packages. */
public final class Main {
    public static void main(String[] args) {
        List<Shape> shapes = new ArrayList<>();
        for (int i = 1; i <= 5; i++) {
            shapes.add(new Rect(i, i + 2));
        }
        Tally tally = new Tally();
        for (Shape s : shapes) {
            tally.add(s);
            System.out.println(s.describe());
        }
        System.out.println("shapes=" + tally.count() + " area=" + tally.totalArea());
        System.out.println("args=" + String.join(",", args));
    }
}
