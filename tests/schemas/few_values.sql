-- A key of few values, which a parent made for a sibling key can take: an orphan drawn
-- for pass.level may find that the roster row made for its roster_id brought its parent.
CREATE TABLE hard.level (level smallint PRIMARY KEY CHECK (level BETWEEN 1 AND 4));
CREATE TABLE hard.roster (
    id    integer PRIMARY KEY,
    level smallint NOT NULL REFERENCES hard.level
);
CREATE INDEX roster_level_idx ON hard.roster (level);
CREATE TABLE hard.pass (
    level     smallint NOT NULL REFERENCES hard.level,
    roster_id integer NOT NULL REFERENCES hard.roster,
    PRIMARY KEY (roster_id, level)
);
CREATE INDEX pass_level_idx ON hard.pass (level);
