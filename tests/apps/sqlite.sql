-- The sqlite3 shell under elfuse (tests/apps/cases.txt, case sqlite3): a
-- database file in the run's directory, in WAL mode (a shared memory map of
-- the -shm file), filled by recursive CTEs inside transactions, queried with
-- joins, aggregates, window functions and JSON, then read back by a second
-- sqlite3 process (.system) while this one keeps it open. Ends with an error.
.bail on
.headers on
.mode list
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
CREATE TABLE city (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, country TEXT);
CREATE TABLE reading (
  id INTEGER PRIMARY KEY,
  city_id INTEGER NOT NULL REFERENCES city(id),
  day INTEGER NOT NULL,
  temp REAL NOT NULL,
  note TEXT
);
CREATE INDEX reading_city_day ON reading(city_id, day);
BEGIN;
INSERT INTO city (name, country) VALUES
  ('Lisbon', 'PT'), ('Oslo', 'NO'), ('Cairo', 'EG'), ('Lima', 'PE'), ('Perth', 'AU');
WITH RECURSIVE d(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM d WHERE n < 2000)
INSERT INTO reading (city_id, day, temp, note)
  SELECT 1 + n % 5, n / 5, round(((n * 7919) % 400) / 10.0 - 5, 1),
         CASE WHEN n % 97 = 0 THEN 'storm ' || n END
  FROM d;
COMMIT;
SELECT count(*) AS readings, count(note) AS notes, round(avg(temp), 3) AS mean FROM reading;
SELECT c.name, count(*) AS n, min(r.temp) AS lo, max(r.temp) AS hi, round(avg(r.temp), 2) AS mean
  FROM reading r JOIN city c ON c.id = r.city_id GROUP BY c.id ORDER BY mean DESC;
SELECT name, day, temp, rank FROM (
  SELECT c.name, r.day, r.temp, rank() OVER (PARTITION BY c.id ORDER BY r.temp DESC, r.day) AS rank
  FROM reading r JOIN city c ON c.id = r.city_id)
  WHERE rank <= 2 ORDER BY name, rank;
SELECT day, round(sum(temp) OVER (ORDER BY day ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), 1) AS moving
  FROM reading WHERE city_id = 2 ORDER BY day LIMIT 5;
SELECT json_group_array(json_object('city', name, 'country', country)) AS cities FROM city WHERE id <= 3;
SELECT note FROM reading WHERE note LIKE 'storm 1%' ORDER BY id;
EXPLAIN QUERY PLAN SELECT * FROM reading WHERE city_id = 3 AND day = 10;
BEGIN;
UPDATE reading SET temp = temp + 100 WHERE city_id = 4;
DELETE FROM reading WHERE day > 390;
ROLLBACK;
SELECT count(*) AS after_rollback, max(temp) AS max_after_rollback FROM reading;
DELETE FROM reading WHERE day >= 300;
SELECT changes() AS changes;
.system sqlite3 -readonly test.db "SELECT 'second process', count(*), (SELECT count(*) FROM city) FROM reading"
PRAGMA wal_checkpoint(TRUNCATE);
PRAGMA integrity_check;
VACUUM;
.schema city
.mode csv
SELECT * FROM city ORDER BY id;
.mode box
SELECT country, name FROM city WHERE country < 'M' ORDER BY country;
.dump city
-- Last, since an error ends the script: a foreign key violation, with its
-- message and sqlite3's exit status 1.
.mode list
INSERT INTO reading (city_id, day, temp) VALUES (9, 1, 1.0);
SELECT 'not reached';
